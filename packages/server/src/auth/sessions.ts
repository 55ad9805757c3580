/**
 * Browser sessions after an OIDC sign-in, kept in the database so that signing out ends
 * them everywhere and every API server knows them. The cookie carries a random id; the
 * table keeps only its sha256. A session ends after SESSION_IDLE_MINUTES without use or
 * SESSION_MAX_HOURS after sign-in, whichever comes first.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/connect.js';
import type { UserRow } from '../db/schema.js';
import type { AuthConfig } from './config.js';

const hash = (id: string) => createHash('sha256').update(id).digest('hex');

export class SessionStore {
  readonly #db: Db;
  readonly #idleMs: number;
  readonly #maxMs: number;

  constructor(db: Db, config: Pick<AuthConfig, 'sessionIdleMinutes' | 'sessionMaxHours'>) {
    this.#db = db;
    this.#idleMs = config.sessionIdleMinutes * 60_000;
    this.#maxMs = config.sessionMaxHours * 3_600_000;
  }

  get maxSeconds(): number {
    return this.#maxMs / 1000;
  }

  /** A new session for the user; returns the id for the cookie. Ended sessions are swept now. */
  async create(userId: string, idToken: string | null, now: number): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.#db
      .deleteFrom('sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', now - this.#idleMs)]))
      .execute();
    await this.#db
      .insertInto('sessions')
      .values({
        session_hash: hash(id),
        user_id: userId,
        created_at: now,
        last_seen_at: now,
        expires_at: now + this.#maxMs,
        id_token: idToken,
      })
      .execute();
    return id;
  }

  /** The live session's user, or undefined (unknown, idle too long, or past its lifetime). */
  async find(id: string, now: number): Promise<{ user: UserRow; idToken: string | null } | undefined> {
    const row = await this.#db
      .selectFrom('sessions')
      .innerJoin('users', 'users.user_id', 'sessions.user_id')
      .selectAll('users')
      .select(['sessions.last_seen_at', 'sessions.expires_at', 'sessions.id_token'])
      .where('session_hash', '=', hash(id))
      .executeTakeFirst();
    if (!row) return undefined;
    const lastSeen = Number(row.last_seen_at);
    if (Number(row.expires_at) <= now || lastSeen + this.#idleMs <= now) {
      await this.end(id);
      return undefined;
    }
    // Written at most once a minute (or 1/20 of the idle time): reads must not all write.
    if (now - lastSeen >= Math.min(60_000, this.#idleMs / 20)) {
      await this.#db.updateTable('sessions').set({ last_seen_at: now }).where('session_hash', '=', hash(id)).execute();
    }
    const { last_seen_at: _l, expires_at: _e, id_token, ...user } = row;
    return {
      user: { ...user, created_at: Number(user.created_at), last_login_at: Number(user.last_login_at) },
      idToken: id_token,
    };
  }

  async end(id: string): Promise<void> {
    await this.#db.deleteFrom('sessions').where('session_hash', '=', hash(id)).execute();
  }
}
