/** The uploader against a real portal on a real port, with real files; faults come from a real proxy. */
import { open, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { MIB } from '@speos-portal/protocol';
import { startFaultProxy } from '@speos-portal/test-support/fault-proxy.js';
import { md5Stored, metric, writeRandomFile } from '@speos-portal/test-support/files.js';
import { startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortalClient } from '../api-client.js';
import { UploadError } from '../errors.js';
import { LocalStorageStateStore, type StorageLike } from '../local-storage-store.js';
import type { UploadProgress } from '../progress.js';
import { Uploader, type UploaderOptions } from '../uploader.js';
import { NodeFileSource } from './file-source.js';
import { NodeHttpTransport } from './http-transport.js';
import { JsonFileStateStore } from './json-file-store.js';

let portal: TestPortal;
let dir: string;
const transport = new NodeHttpTransport();

beforeAll(async () => {
  portal = await startTestPortal({ URL_TTL_SECONDS: '2' });
  dir = await tempDir('speos-client-');
});
afterAll(async () => {
  transport.close();
  await portal?.close();
  await rm(dir, { recursive: true, force: true });
});

async function makeFile(name: string, size: number) {
  const file = path.join(dir, name);
  const md5 = await writeRandomFile(file, size);
  return { file, md5, source: await NodeFileSource.open(file) };
}

function uploader(baseUrl: string, source: NodeFileSource, extra: Partial<UploaderOptions> = {}) {
  return new Uploader({
    api: new PortalClient({ baseUrl }),
    transport,
    source,
    retry: { baseDelayMs: 50, maxDelayMs: 500 },
    ...extra,
  });
}

describe('Uploader (Node transport, real portal)', () => {
  it('uploads, completes, confirms; progress never goes backwards; state is cleared', async () => {
    const { md5, source } = await makeFile('model.speos', 23 * MIB + 123);
    const store = new JsonFileStateStore(path.join(dir, 'state-basic'));
    const up = uploader(portal.url, source, { store, confirm: { job_name: 'basic' } });
    const seen: UploadProgress[] = [];
    const parts: number[] = [];
    let saves = 0;
    up.on('progress', (p) => seen.push(p));
    up.on('part-done', (p) => parts.push(p.partNumber));
    up.on('state-saved', () => saves++);
    const result = await up.start();
    expect(result.confirm?.status).toBe('PENDING');
    expect(result.partsSent).toBe(5);
    expect(parts.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(saves).toBeGreaterThanOrEqual(6); // after init and after every part
    for (let i = 1; i < seen.length; i++)
      expect(seen[i]!.uploadedBytes).toBeGreaterThanOrEqual(seen[i - 1]!.uploadedBytes);
    expect(seen.at(-1)).toMatchObject({ uploadedBytes: source.size, fraction: 1 });
    expect(await md5Stored(portal.url, result.taskId)).toBe(md5);
    expect(await store.all()).toEqual([]);
  });

  it('completes through a proxy that resets connections, answers 500 and stalls parts', async () => {
    const proxy = await startFaultProxy(portal.url, { resetRate: 0.2, errorRate: 0.2, hangRate: 0.1, seed: 7 });
    try {
      const { md5, source } = await makeFile('faulty.speos', 41 * MIB);
      const retries: string[] = [];
      const up = uploader(proxy.url, source, {
        stallTimeoutMs: 1500,
        retry: { baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 12 },
      });
      up.on('retry', (r) => retries.push(r.decision.reason));
      const result = await up.start();
      expect(await md5Stored(portal.url, result.taskId)).toBe(md5);
      expect(proxy.stats.resets).toBeGreaterThan(0);
      expect(proxy.stats.injected500).toBeGreaterThan(0);
      expect(proxy.stats.hangs).toBeGreaterThan(0);
      expect(retries.some((r) => r.includes('no progress'))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('re-signs URLs that expire before their turn (URL_TTL_SECONDS=2, slowed transfer)', async () => {
    const proxy = await startFaultProxy(portal.url, { bytesPerSecond: 8 * MIB });
    try {
      const { md5, source } = await makeFile('slow.speos', 30 * MIB);
      const signsBefore = await metric(portal.url, 'speos_http_requests_total', 'multipart/sign');
      const up = uploader(proxy.url, source, { concurrency: 2 });
      const result = await up.start();
      expect(await md5Stored(portal.url, result.taskId)).toBe(md5);
      // Init's URLs for parts 5 and 6 were past expires_at when their turn came: signed again first.
      expect(await metric(portal.url, 'speos_http_requests_total', 'multipart/sign')).toBeGreaterThan(signsBefore);
    } finally {
      await proxy.close();
    }
  });

  it('re-signs and retries when the storage answers 403 URL_EXPIRED', async () => {
    // The proxy holds some PUTs for 2.5 s, so URLs that were fresh when sent arrive expired.
    const proxy = await startFaultProxy(portal.url, { delayRate: 0.3, delayMs: 2500, seed: 3 });
    try {
      const { md5, source } = await makeFile('expired.speos', 21 * MIB);
      const expiredBefore = await metric(portal.url, 'speos_errors_total', 'URL_EXPIRED');
      let resigns = 0;
      const up = uploader(proxy.url, source);
      up.on('retry', (r) => {
        if (r.decision.action === 'resign') resigns++;
      });
      const result = await up.start();
      expect(await md5Stored(portal.url, result.taskId)).toBe(md5);
      expect(proxy.stats.delayed).toBeGreaterThan(0);
      expect(resigns).toBeGreaterThan(0);
      expect(await metric(portal.url, 'speos_errors_total', 'URL_EXPIRED')).toBe(expiredBefore + resigns);
    } finally {
      await proxy.close();
    }
  });

  it('pauses and resumes; a new uploader resumes from the saved state and skips stored parts', async () => {
    const { md5, source } = await makeFile('resume.speos', 26 * MIB);
    const store = new JsonFileStateStore(path.join(dir, 'state-resume'));
    const first = uploader(portal.url, source, { store, concurrency: 1 });
    first.on('part-done', (p) => {
      if (p.partNumber === 2) first.pause();
    });
    await expect(first.start()).rejects.toMatchObject({ code: 'PAUSED' });
    // Same object: start() again continues.
    first.on('part-done', (p) => {
      if (p.partNumber === 3) first.pause();
    });
    await expect(first.start()).rejects.toMatchObject({ code: 'PAUSED' });
    const saved = await store.all();
    expect(saved).toHaveLength(1);
    expect(saved[0]!.uploaded_parts.map(([n]) => n)).toEqual([1, 2, 3]);

    const second = uploader(portal.url, source, { store });
    let resumed: { partsOnServer: number } | undefined;
    second.on('resume', (r) => {
      resumed = r;
    });
    const result = await second.start();
    expect(resumed?.partsOnServer).toBe(3);
    expect(result).toMatchObject({ resumed: true, partsSent: 3, taskId: saved[0]!.task_id });
    expect(await md5Stored(portal.url, result.taskId)).toBe(md5);
    expect(await store.all()).toEqual([]);
  });

  it('refuses to resume a file whose bytes changed (same size and mtime)', async () => {
    const { file, source } = await makeFile('changed.speos', 16 * MIB);
    const store = new JsonFileStateStore(path.join(dir, 'state-changed'));
    const first = uploader(portal.url, source, { store, concurrency: 1 });
    first.on('part-done', () => first.pause());
    await expect(first.start()).rejects.toMatchObject({ code: 'PAUSED' });
    const before = await stat(file);
    const handle = await open(file, 'r+');
    await handle.write(Buffer.from('edited'), 0, 6, 1000);
    await handle.close();
    await utimes(file, before.atime, before.mtime);
    const second = uploader(portal.url, await NodeFileSource.open(file), { store });
    const error = await second.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadError);
    expect(error).toMatchObject({ code: 'FILE_CHANGED' });
    expect((error as Error).message).toMatch(/changed since its upload began.*part 1/);
  });

  it('cancel aborts the upload on the server and clears the saved state', async () => {
    const { source } = await makeFile('cancel.speos', 16 * MIB);
    const store = new JsonFileStateStore(path.join(dir, 'state-cancel'));
    const up = uploader(portal.url, source, { store, concurrency: 1 });
    let onServer: { task_id: string; upload_id: string; object_key: string } | undefined;
    const cancelled = new Promise<void>((resolve) =>
      up.on('part-done', () => {
        const s = up.state!;
        onServer ??= { task_id: s.task_id, upload_id: s.upload_id, object_key: s.object_key };
        void up.cancel().then(resolve);
      }),
    );
    await expect(up.start()).rejects.toMatchObject({ code: 'CANCELLED' });
    await cancelled; // the abort has had its answer
    expect(up.state?.task_id).toBeUndefined();
    expect(await store.all()).toEqual([]);
    // The server side: the upload is gone (its parts with it) and the task says so.
    const api = new PortalClient({ baseUrl: portal.url });
    await expect(api.list(onServer!)).rejects.toMatchObject({ code: 'NO_SUCH_UPLOAD' });
    expect((await api.getTask(onServer!.task_id)).status).toBe('ABORTED');
  });

  it('stops with NO_SUCH_UPLOAD when the upload is aborted on the server mid-way', async () => {
    const { source } = await makeFile('aborted.speos', 21 * MIB);
    const api = new PortalClient({ baseUrl: portal.url });
    const up = uploader(portal.url, source, { concurrency: 1 });
    up.on('part-done', () => {
      const s = up.state!;
      void api.abort({ task_id: s.task_id, upload_id: s.upload_id, object_key: s.object_key });
    });
    const error = await up.start().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'NO_SUCH_UPLOAD' });
    expect((error as Error).message).toMatch(/no longer has upload/);
  });

  it('keeps uploading when localStorage refuses writes, and says resume is off', async () => {
    const { md5, source } = await makeFile('quota.speos', 11 * MIB);
    const full: StorageLike = {
      length: 0,
      key: () => null,
      getItem: () => null,
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
      removeItem: () => {},
    };
    const store = new LocalStorageStateStore(full);
    const up = uploader(portal.url, source, { store });
    const warnings: string[] = [];
    up.on('warning', (w) => warnings.push(w.message));
    const result = await up.start();
    expect(await md5Stored(portal.url, result.taskId)).toBe(md5);
    expect(up.resumeEnabled).toBe(false);
    expect(warnings).toHaveLength(1);
  });
});
