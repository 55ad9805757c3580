/**
 * The one retry loop against a server that really goes away: a real portal closed mid-upload
 * and started again on the same port and data directory a few seconds later. The retry
 * budget is made small, so the wait outlasts every attempt it allows: only maxWaitMs (and
 * the OutageWatch that bounds the outage, not each request) can carry the upload through.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { MIB } from '@speos-portal/protocol';
import { md5Stored, writeRandomFile } from '@speos-portal/test-support/files.js';
import { freePort, startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortalClient } from '../api-client.js';
import { UploadError } from '../errors.js';
import { OutageWatch } from '../retry-loop.js';
import { Uploader } from '../uploader.js';
import { withRetry } from '../with-retry.js';
import { NodeFileSource } from './file-source.js';
import { NodeHttpTransport } from './http-transport.js';
import { JsonFileStateStore } from './json-file-store.js';

/** Far fewer attempts than the outage needs: 3 tries within about half a second. */
const SHORT_BUDGET = { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 300 };
const OUTAGE_MS = 2500;

let dir: string;
const transport = new NodeHttpTransport();

beforeAll(async () => {
  dir = await tempDir('speos-outage-');
});
afterAll(async () => {
  transport.close();
  await rm(dir, { recursive: true, force: true });
});

/** A portal that can be stopped and started again where it was. */
async function restartablePortal() {
  const dataDir = await tempDir('speos-outage-data-');
  const port = await freePort();
  let portal: TestPortal | undefined = await startTestPortal({}, { dataDir, port });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await portal?.close();
      portal = undefined;
    },
    /** Resolves with the moment it listens again. */
    async start(): Promise<number> {
      portal = await startTestPortal({}, { dataDir, port });
      return Date.now();
    },
    async close() {
      await portal?.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

describe('waiting for a server that went away', () => {
  it('uploads through a server restart that outlasts the attempt budget, and says it waits', async () => {
    const server = await restartablePortal();
    try {
      const file = path.join(dir, 'restart.speos');
      const md5 = await writeRandomFile(file, 26 * MIB);
      const events: string[] = [];
      const up = new Uploader({
        api: new PortalClient({ baseUrl: server.url }),
        transport,
        source: await NodeFileSource.open(file),
        store: new JsonFileStateStore(path.join(dir, 'state-restart')),
        concurrency: 2,
        retry: { ...SHORT_BUDGET, maxWaitMs: 30_000 },
        confirm: { job_name: 'through a restart' },
      });
      let maxAttempt = 0;
      let back: Promise<number> | undefined;
      up.on('retry', ({ attempt }) => {
        maxAttempt = Math.max(maxAttempt, attempt);
      });
      up.on('waiting', (w) => events.push(`waiting for the ${w.target}`));
      up.on('reconnected', (r) => events.push(`reconnected to the ${r.target}`));
      up.on('part-done', ({ partNumber }) => {
        if (partNumber !== 2 || back) return;
        back = server
          .stop()
          .then(() => new Promise((r) => setTimeout(r, OUTAGE_MS)))
          .then(() => server.start());
      });
      const result = await up.start();
      const done = Date.now();
      expect(result.confirm?.status).toBe('PENDING');
      expect(await md5Stored(server.url, result.taskId)).toBe(md5);
      // Waiting, then going on; possibly more than once (requests in flight while the first
      // server shuts down still get answers), but always in turn and ending connected.
      expect(events.length % 2).toBe(0);
      for (const [i, event] of events.entries()) {
        expect(event).toBe(i % 2 === 0 ? 'waiting for the server' : 'reconnected to the server');
      }
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(maxAttempt).toBeGreaterThan(SHORT_BUDGET.maxAttempts);
      console.log(`[measured] uploader: ${done - (await back!)} ms from the server's return to confirmed`);
    } finally {
      await server.close();
    }
  });

  it('gives up when the outage lasts longer than maxWaitMs, leaving the upload resumable', async () => {
    const server = await restartablePortal();
    try {
      const file = path.join(dir, 'gone.speos');
      await writeRandomFile(file, 16 * MIB);
      const store = new JsonFileStateStore(path.join(dir, 'state-gone'));
      const up = new Uploader({
        api: new PortalClient({ baseUrl: server.url }),
        transport,
        source: await NodeFileSource.open(file),
        store,
        concurrency: 1,
        retry: { ...SHORT_BUDGET, maxWaitMs: 1500 },
      });
      let stopped: Promise<void> | undefined;
      up.on('part-done', () => {
        stopped ??= server.stop();
      });
      const error = await up.start().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UploadError);
      expect(error).toMatchObject({ code: 'REQUEST_FAILED' });
      expect((error as Error).message).toMatch(/ECONNREFUSED.*after \d+ attempts and 2 s of waiting/);
      expect((await store.all())[0]?.uploaded_parts.length).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
  });

  it('withRetry waits for a server that is not there yet and says when it answers', async () => {
    const port = await freePort();
    const watch = new OutageWatch('server', `http://127.0.0.1:${port}`);
    const events: string[] = [];
    watch.on('waiting', (w) => events.push(`waiting ${w.reason}`));
    watch.on('reconnected', () => events.push('reconnected'));
    const dataDir = await tempDir('speos-outage-late-');
    let portal: TestPortal | undefined;
    const late = new Promise((r) => setTimeout(r, 1500)).then(async () => {
      portal = await startTestPortal({}, { dataDir, port });
    });
    try {
      const api = new PortalClient({ baseUrl: `http://127.0.0.1:${port}` });
      const config = await withRetry((signal) => api.config(signal), {
        policy: { ...SHORT_BUDGET, maxWaitMs: 20_000 },
        watch,
      });
      expect(config.upload_mode).toBe('tos');
      expect(events).toEqual(['waiting ECONNREFUSED', 'reconnected']);
    } finally {
      await late;
      await portal?.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
