/**
 * Sends what the outbox holds (events.ts), at least once and in order per task and
 * destination:
 * 1. fan-out: each new event gets one delivery row per destination configured now (each
 *    NOTIFY_WEBHOOK_URLS entry; "email" with SMTP_URL for tasks that have an owner);
 * 2. delivery: a due delivery is sent only when no earlier one of the same task to the same
 *    destination is still pending, so a receiver sees a task's events in order. A failure
 *    is tried again after a growing pause (the interval × 2^attempts, at most an hour)
 *    until NOTIFY_GIVE_UP_HOURS after the event, then it is FAILED and the next one goes.
 * Marked DELIVERED only after the receiver took it: a crash in between sends it again.
 * On PostgreSQL one server at a time dispatches (a session advisory lock per round).
 * Settled rows are dropped after a week.
 */
import type { Task } from '@speos-portal/protocol';
import type { Clock } from '../clock.js';
import type { KeepingConfig } from '../config.js';
import type { Db } from '../db/connect.js';
import { lockKey, onOneServer } from '../db/one-server.js';
import type { Database } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { composeMail, Mailer, type MailLanguage } from './email.js';
import { postWebhook } from './webhook.js';

/** "SPEOSntf" as an int64; distinct from the other sweeps' keys. */
const ADVISORY_LOCK_KEY = lockKey('6003231012479493222');
const BATCH = 100;
const MAX_BACKOFF_MS = 3600_000;
const KEEP_SETTLED_MS = 7 * 24 * 3600_000;
export const EMAIL_TARGET = 'email';

export interface DispatcherDeps {
  db: Db;
  clock: Clock;
  config: KeepingConfig;
  /** The portal's address, for the link to the task page in e-mails. */
  publicUrl: string;
  log?: Logger | undefined;
}

export interface RoundResult {
  ran: boolean;
  delivered: number;
  failedAttempts: number;
}

export class NotificationDispatcher {
  readonly #deps: DispatcherDeps;
  readonly #mailer: Mailer | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<RoundResult> | null = null;
  #stopped = false;
  /** Attempts that failed since start (for /metrics). */
  failedAttempts = 0;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    this.#mailer = deps.config.smtpUrl ? new Mailer(deps.config.smtpUrl, deps.config.notifyFrom) : undefined;
  }

  get enabled(): boolean {
    return this.#deps.config.webhookUrls.length > 0 || this.#mailer !== undefined;
  }

  start(): void {
    const loop = () => {
      if (this.#stopped) return;
      this.runNow()
        .catch((error) => this.#deps.log?.warn({ err: error }, 'notifications: a round failed; will retry'))
        .finally(() => {
          if (this.#stopped) return;
          this.#timer = setTimeout(loop, this.#deps.config.notifyIntervalSeconds * 1000);
          this.#timer.unref();
        });
    };
    setImmediate(loop);
  }

  /** Waits for a round in progress, then stops. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
    this.#mailer?.close();
  }

  /** One round now (after one already running). */
  runNow(): Promise<RoundResult> {
    if (this.#running) return this.#running.catch(() => {}).then(() => this.runNow());
    this.#running = this.#locked().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  #locked(): Promise<RoundResult> {
    return onOneServer(
      this.#deps.db,
      ADVISORY_LOCK_KEY,
      () => this.#round(),
      () => ({
        ran: false,
        delivered: 0,
        failedAttempts: 0,
      }),
    );
  }

  async #round(): Promise<RoundResult> {
    await this.#fanOut();
    const result = await this.#deliverDue();
    await this.#prune();
    return result;
  }

  /** Settled notifications are kept a week (for a look at what was sent), then dropped. */
  async #prune(): Promise<void> {
    const { db, clock } = this.#deps;
    const before = clock() - KEEP_SETTLED_MS;
    await db
      .deleteFrom('notification_deliveries')
      .where('status', '!=', 'PENDING')
      .where('created_at', '<', before)
      .execute();
    await db
      .deleteFrom('notification_events')
      .where('fanned_out', '=', 1)
      .where('created_at', '<', before)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('notification_deliveries as d')
              .select('d.seq')
              .whereRef('d.task_id', '=', 'notification_events.task_id')
              .whereRef('d.seq', '=', 'notification_events.seq'),
          ),
        ),
      )
      .execute();
  }

  /** Destinations as configured now; events from before a destination was added are not sent to it. */
  #targets(owner: string | null): string[] {
    const targets = this.#deps.config.webhookUrls.map((url) => `webhook:${url}`);
    if (this.#mailer && owner !== null) targets.push(EMAIL_TARGET);
    return targets;
  }

  async #fanOut(): Promise<void> {
    const { db, clock } = this.#deps;
    for (;;) {
      const events = await db
        .selectFrom('notification_events')
        .select(['task_id', 'seq', 'owner', 'created_at'])
        .where('fanned_out', '=', 0)
        .orderBy('created_at')
        .orderBy('seq')
        .limit(BATCH)
        .execute();
      if (events.length === 0) return;
      const now = clock();
      await db.transaction().execute(async (trx) => {
        for (const event of events) {
          const marked = await trx
            .updateTable('notification_events')
            .set({ fanned_out: 1 })
            .where('task_id', '=', event.task_id)
            .where('seq', '=', event.seq)
            .where('fanned_out', '=', 0)
            .executeTakeFirst();
          if (Number(marked.numUpdatedRows) === 0) continue;
          const targets = this.#targets(event.owner);
          if (targets.length === 0) continue;
          await trx
            .insertInto('notification_deliveries')
            .values(
              targets.map((target) => ({
                task_id: event.task_id,
                seq: event.seq,
                target,
                status: 'PENDING',
                attempts: 0,
                next_attempt_at: now,
                last_error: null,
                created_at: Number(event.created_at),
                delivered_at: null,
              })),
            )
            .execute();
        }
      });
      if (events.length < BATCH) return;
    }
  }

  async #deliverDue(): Promise<RoundResult> {
    const { db, clock } = this.#deps;
    const now = clock();
    // Due, and the first still pending of its task to its destination (order per task).
    const due = await db
      .selectFrom('notification_deliveries as d')
      .innerJoin('notification_events as e', (join) =>
        join.onRef('e.task_id', '=', 'd.task_id').onRef('e.seq', '=', 'd.seq'),
      )
      .select(['d.task_id', 'd.seq', 'd.target', 'd.attempts', 'd.created_at', 'e.event', 'e.owner', 'e.payload'])
      .where('d.status', '=', 'PENDING')
      .where('d.next_attempt_at', '<=', now)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('notification_deliveries as earlier')
              .select('earlier.seq')
              .whereRef('earlier.task_id', '=', 'd.task_id')
              .whereRef('earlier.target', '=', 'd.target')
              .whereRef('earlier.seq', '<', 'd.seq')
              .where('earlier.status', '=', 'PENDING'),
          ),
        ),
      )
      .orderBy('d.created_at')
      .orderBy('d.seq')
      .limit(BATCH)
      .execute();
    // Destinations in parallel, each one's deliveries one after another.
    const byTarget = new Map<string, typeof due>();
    for (const row of due) byTarget.set(row.target, [...(byTarget.get(row.target) ?? []), row]);
    let delivered = 0;
    let failed = 0;
    await Promise.all(
      [...byTarget.values()].map(async (rows) => {
        for (const row of rows) {
          const outcome = await this.#attempt(row);
          if (outcome === 'delivered' || outcome === 'skipped') delivered++;
          else failed++;
        }
      }),
    );
    return { ran: true, delivered, failedAttempts: failed };
  }

  async #attempt(row: {
    task_id: string;
    seq: number;
    target: string;
    attempts: number;
    created_at: number;
    event: string;
    owner: string | null;
    payload: string;
  }): Promise<'delivered' | 'skipped' | 'failed'> {
    const { db, clock, config, log } = this.#deps;
    const update = (fields: {
      status: string;
      attempts: number;
      delivered_at?: number;
      next_attempt_at?: number;
      last_error: string | null;
    }) =>
      db
        .updateTable('notification_deliveries')
        .set(fields)
        .where('task_id', '=', row.task_id)
        .where('seq', '=', Number(row.seq))
        .where('target', '=', row.target)
        .execute();
    try {
      const skipped = await this.#send(row);
      const now = clock();
      await update({
        status: skipped ? 'SKIPPED' : 'DELIVERED',
        delivered_at: now,
        attempts: Number(row.attempts) + 1,
        last_error: skipped ?? null,
      });
      return skipped ? 'skipped' : 'delivered';
    } catch (error) {
      this.failedAttempts++;
      const now = clock();
      const attempts = Number(row.attempts) + 1;
      const reason = error instanceof Error ? error.message : String(error);
      const giveUp = now - Number(row.created_at) >= config.notifyGiveUpHours * 3600_000;
      const pause = Math.min(config.notifyIntervalSeconds * 1000 * 2 ** attempts, MAX_BACKOFF_MS);
      await update({
        status: giveUp ? 'FAILED' : 'PENDING',
        attempts,
        next_attempt_at: now + pause,
        last_error: reason.slice(0, 1000),
      });
      (giveUp ? log?.warn : log?.info)?.call(
        log,
        { task_id: row.task_id, event: row.event, target: describe(row.target), attempts, err: reason },
        giveUp
          ? `notification given up after ${attempts} attempts (NOTIFY_GIVE_UP_HOURS)`
          : `notification not delivered; trying again in ${Math.round(pause / 1000)} s`,
      );
      return 'failed';
    }
  }

  /** Sends one delivery; returns why it was skipped (nothing to send), or undefined when sent. */
  async #send(row: { target: string; event: string; owner: string | null; payload: string; task_id: string }) {
    const task = JSON.parse(row.payload) as Task;
    if (row.target.startsWith('webhook:')) {
      await postWebhook(
        row.target.slice('webhook:'.length),
        { event: row.event, task, sent_at: Math.floor(this.#deps.clock() / 1000) },
        this.#deps.config.webhookSecret,
      );
      return undefined;
    }
    if (row.target === EMAIL_TARGET && this.#mailer && row.owner !== null) {
      const { db } = this.#deps;
      const user = await db.selectFrom('users').select('email').where('user_id', '=', row.owner).executeTakeFirst();
      if (!user?.email) return 'the owner has no e-mail address';
      const prefs = await db
        .selectFrom('notification_preferences')
        .selectAll()
        .where('owner', '=', row.owner)
        .executeTakeFirst();
      if (prefs && Number(prefs.email_enabled) === 0) return 'the owner turned e-mail notifications off';
      const language: MailLanguage = prefs?.language === 'zh' ? 'zh' : 'en';
      const link = `${this.#deps.publicUrl}/#/tasks/${encodeURIComponent(row.task_id)}`;
      await this.#mailer.send(user.email, composeMail(row.event, task, link, language));
      return undefined;
    }
    return 'the destination is no longer configured';
  }
}

/** A webhook URL without credentials or query, for logs. */
function describe(target: string): string {
  if (!target.startsWith('webhook:')) return target;
  try {
    const url = new URL(target.slice('webhook:'.length));
    return `webhook ${url.origin}${url.pathname}`;
  } catch {
    return 'webhook';
  }
}
