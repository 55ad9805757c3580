/**
 * Notifications end to end: a real HTTP receiver for webhooks (signature checked, order per
 * task, redelivery after the receiver was down and after a server restart), and a real SMTP
 * server in the test (the smtp-server package) receiving the e-mails, in the user's language,
 * with the opt-out honoured. The solver is a TEST DOUBLE (test-support/fake-speos.mjs): SPEOS
 * cannot be installed here.
 */
import { createHmac } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { freePort, tempDir } from '@speos-portal/test-support/portal.js';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createPortal } from '../app.js';
import { createApiToken } from '../auth/tokens.js';
import { upsertUser } from '../auth/users.js';
import { loadConfig } from '../config.js';
import { loadWorkerConfig } from '../worker/config.js';

const COMMAND = `${process.execPath} ${FAKE} {master} -t {thread_count} -p {priority}`;
const SECRET = 'webhook-secret-0123456789';

interface Received {
  body: string;
  signature: string | undefined;
  parsed: { event: string; task: { task_id: string; status: string; job_name: string }; sent_at: number };
}

/** A webhook receiver on a fixed port that can go down and come back. */
class Receiver {
  received: Received[] = [];
  #server: Server | undefined;
  constructor(readonly port: number) {}
  get url() {
    return `http://127.0.0.1:${this.port}/hook`;
  }
  async up(): Promise<void> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const header = req.headers['x-speos-portal-signature'];
        this.received.push({
          body,
          signature: typeof header === 'string' ? header : undefined,
          parsed: JSON.parse(body),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve));
  }
  async down(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  events(taskId: string) {
    return this.received.filter((r) => r.parsed.task.task_id === taskId).map((r) => r.parsed.event);
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startPortal(env: Record<string, string>, dataDir: string, withWorker = true) {
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    NOTIFY_INTERVAL_SECONDS: '0.1',
    ...env,
  });
  const worker = withWorker
    ? loadWorkerConfig({ SPEOS_COMMAND_V252: COMMAND, WORKER_POLL_SECONDS: '0.2' }, dataDir)
    : undefined;
  const portal = await createPortal(config, worker ? { worker } : {});
  await portal.app.listen({ port, host: '127.0.0.1' });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await portal.app.close();
  };
  cleanups.push(close);
  return { ...portal, url: `http://127.0.0.1:${port}`, close };
}

async function submit(api: TestApi, jobName: string, plan: Record<string, unknown>) {
  const { init } = await api.uploadFile(Buffer.from(JSON.stringify({ passes: 2, delay_ms: 5, ...plan })), {
    filename: 'model.speos',
  });
  const res = await api.post('/tasks/upload/confirm', {
    task_id: init.task_id,
    master_object_key: init.object_key,
    job_name: jobName,
  });
  expect(res.status).toBe(200);
  return init.task_id as string;
}

const ended = (api: TestApi, id: string) =>
  until(`task ${id} to end`, async () => {
    const task = (await api.get(`/tasks/${id}`)).body;
    return ['SUCCESS', 'FAILURE', 'CANCELLED'].includes(task.status) ? task : undefined;
  });

async function workDir() {
  const dir = await tempDir('speos-notify-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('webhooks', () => {
  it('posts signed {event, task, sent_at} for running, succeeded, failed and cancelled, in order per task', async () => {
    const receiver = new Receiver(await freePort());
    await receiver.up();
    cleanups.push(() => receiver.down());
    const portal = await startPortal(
      { NOTIFY_WEBHOOK_URLS: receiver.url, NOTIFY_WEBHOOK_SECRET: SECRET },
      await workDir(),
    );
    const api = new TestApi(portal.url);
    const ok = await submit(api, 'fine', {});
    const bad = await submit(api, 'broken', { exit: 3 });
    const long = await submit(api, 'stopped', { hang: true });
    await until('the long one to run', async () => (await api.get(`/tasks/${long}`)).body.status === 'RUNNING');
    expect((await api.post(`/tasks/${long}/stop`, {})).status).toBe(200);
    for (const id of [ok, bad, long]) await ended(api, id);

    await until('every event', () => receiver.received.length >= 6);
    expect(receiver.events(ok)).toEqual(['task.running', 'task.succeeded']);
    expect(receiver.events(bad)).toEqual(['task.running', 'task.failed']);
    expect(receiver.events(long)).toEqual(['task.running', 'task.cancelled']);
    for (const r of receiver.received) {
      const expected = `sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`;
      expect(r.signature).toBe(expected);
      expect(Object.keys(r.parsed).sort()).toEqual(['event', 'sent_at', 'task']);
      expect(r.parsed.sent_at).toBeGreaterThan(1.7e9);
    }
    const succeeded = receiver.received.find((r) => r.parsed.event === 'task.succeeded')!.parsed.task;
    // The task as GET /tasks/{id} shows it at that moment.
    const now = (await api.get(`/tasks/${ok}`)).body;
    expect(succeeded).toMatchObject({
      task_id: ok,
      status: 'SUCCESS',
      job_name: 'fine',
      download_url: now.download_url,
    });
    expect(
      receiver.received.find((r) => r.parsed.event === 'task.running' && r.parsed.task.task_id === ok)!.parsed.task
        .status,
    ).toBe('RUNNING');
  });

  it('delivers again after the receiver was down, in order, and counts the backlog in /metrics', async () => {
    const receiver = new Receiver(await freePort());
    const portal = await startPortal({ NOTIFY_WEBHOOK_URLS: receiver.url }, await workDir());
    const api = new TestApi(portal.url);
    const ids = [await submit(api, 'one', {}), await submit(api, 'two', { exit: 1 })];
    for (const id of ids) await ended(api, id);
    const metrics = await until('a backlog and failed attempts', async () => {
      const text = await (await fetch(`${portal.url}/metrics`)).text();
      const backlog = Number(/^speos_notifications_backlog (\d+)/m.exec(text)?.[1]);
      const failed = Number(/^speos_notification_attempts_failed (\d+)/m.exec(text)?.[1]);
      return backlog >= 4 && failed > 0 ? text : undefined;
    });
    expect(metrics).toMatch(/^speos_tasks\{status="SUCCESS"\} 1$/m);
    expect(metrics).toMatch(/^speos_tasks\{status="FAILURE"\} 1$/m);
    expect(metrics).toMatch(/^speos_stored_bytes \d+$/m);
    await receiver.up();
    cleanups.push(() => receiver.down());
    await until('redelivery', () => receiver.received.length >= 4);
    expect(receiver.events(ids[0]!)).toEqual(['task.running', 'task.succeeded']);
    expect(receiver.events(ids[1]!)).toEqual(['task.running', 'task.failed']);
    expect(receiver.received.every((r) => r.signature === undefined)).toBe(true); // no secret set
    await until('an empty backlog', async () =>
      /^speos_notifications_backlog 0$/m.test(await (await fetch(`${portal.url}/metrics`)).text()),
    );
  });

  it('gives a notification up after NOTIFY_GIVE_UP_HOURS and reports it in /metrics', async () => {
    const receiver = new Receiver(await freePort()); // never up
    const portal = await startPortal(
      { NOTIFY_WEBHOOK_URLS: receiver.url, NOTIFY_GIVE_UP_HOURS: String(1 / 3600) },
      await workDir(),
    );
    const api = new TestApi(portal.url);
    const id = await submit(api, 'nobody listens', {});
    await ended(api, id);
    const text = await until('both given up', async () => {
      const body = await (await fetch(`${portal.url}/metrics`)).text();
      return /^speos_notifications_failed 2$/m.test(body) ? body : undefined;
    });
    expect(text).toMatch(/^speos_notifications_backlog 0$/m);
    const rows = await portal.db.selectFrom('notification_deliveries').selectAll().where('task_id', '=', id).execute();
    expect(rows.map((r) => r.status)).toEqual(['FAILED', 'FAILED']);
    expect(rows[0]!.last_error).toMatch(/fetch failed|ECONNREFUSED/);
  });

  it('loses nothing across a server restart: the outbox is in the database', async () => {
    const receiver = new Receiver(await freePort());
    const dataDir = await workDir();
    const env = { NOTIFY_WEBHOOK_URLS: receiver.url };
    const first = await startPortal(env, dataDir);
    const api = new TestApi(first.url);
    const id = await submit(api, 'across restart', {});
    await ended(api, id);
    await first.close(); // the receiver was down the whole time: nothing delivered yet
    expect(receiver.received).toEqual([]);
    await receiver.up();
    cleanups.push(() => receiver.down());
    await startPortal(env, dataDir, false);
    await until('delivery after the restart', () => receiver.received.length >= 2);
    expect(receiver.events(id)).toEqual(['task.running', 'task.succeeded']);
  });
});

describe('e-mail', () => {
  it('mails the submitter through SMTP in their language with a link, and not after they opt out', async () => {
    const mails: { to: string[]; raw: string }[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    const smtpPort = await freePort();
    await new Promise<void>((resolve) => smtp.listen(smtpPort, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => smtp.close(() => resolve())));

    const dataDir = await workDir();
    const portal = await startPortal(
      {
        // Auth on (the AUTH_TOKENS user has no address); the person below signs in with a personal token.
        AUTH_TOKENS: 'robot-token-0123456789:robot',
        SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        NOTIFY_FROM: 'SPEOS portal <portal@example.com>',
      },
      dataDir,
    );
    // A person as sign-in records them (auth/users.ts), with a personal API token.
    const user = await upsertUser(
      portal.db,
      { issuer: 'https://idp.example.com', subject: 'zhang', name: '张三', email: 'zhang@example.com', groups: [] },
      Date.now(),
    );
    const { secret } = await createApiToken(portal.db, {
      userId: user.user_id,
      name: 'test',
      expiresAt: null,
      now: Date.now(),
    });
    const api = new TestApi(portal.url, secret);

    const settings = await api.request('PUT', '/notifications/settings', { email_enabled: true, language: 'zh' });
    expect(settings.body).toEqual({
      email_enabled: true,
      language: 'zh',
      email: 'zhang@example.com',
      email_available: true,
    });
    const id = await submit(api, '车灯', {});
    await ended(api, id);
    await until('two mails', () => mails.length >= 2);
    expect(mails.every((m) => m.to.join() === 'zhang@example.com')).toBe(true);
    const decoded = mails.map((m) => decodeMail(m.raw));
    expect(decoded[1]).toContain('已成功完成');
    expect(decoded[1]).toContain(`${portal.url}/#/tasks/${id}`);
    expect(mails[1]!.raw).toMatch(/^From: SPEOS portal <portal@example\.com>/m);

    // English, then off.
    await api.request('PUT', '/notifications/settings', { email_enabled: true, language: 'en' });
    const second = await submit(api, 'headlamp', { exit: 2 });
    await ended(api, second);
    await until('two more mails', () => mails.length >= 4);
    expect(decodeMail(mails[3]!.raw)).toContain('SPEOS task "headlamp" failed');
    await api.request('PUT', '/notifications/settings', { email_enabled: false, language: 'en' });
    const third = await submit(api, 'quiet', {});
    await ended(api, third);
    await until('the deliveries to be settled', async () => {
      const rows = await portal.db
        .selectFrom('notification_deliveries')
        .select('status')
        .where('task_id', '=', third)
        .execute();
      return rows.length === 2 && rows.every((r) => r.status === 'SKIPPED');
    });
    expect(mails).toHaveLength(4);
    // Bad settings are refused with a clear 422.
    const bad = await api.request('PUT', '/notifications/settings', { email_enabled: true, language: 'fr' });
    expect(bad.status).toBe(422);
  });
});

/** The text of a mail, quoted-printable or base64 parts decoded well enough to search. */
function decodeMail(raw: string): string {
  const qp = raw
    .replace(/=\r?\n/g, '')
    .replace(/(?:=[0-9A-F]{2})+/g, (m) => Buffer.from(m.replace(/=/g, ''), 'hex').toString('utf8'));
  const base64 = [...raw.matchAll(/\r?\n\r?\n([A-Za-z0-9+/=\r\n]+)(?:\r?\n--|$)/g)]
    .map((m) => Buffer.from(m[1]!.replace(/\s/g, ''), 'base64').toString('utf8'))
    .join('\n');
  return `${qp}\n${base64}`;
}
