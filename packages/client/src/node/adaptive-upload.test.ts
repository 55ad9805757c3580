/**
 * The adaptive concurrency end to end: a real portal, real files, the Node transport. How
 * fast it grows depends on timing, so these tests check what must hold whatever the timing:
 * the upload completes byte-identical, parts in flight never exceed the limit in force, a
 * manual concurrency wins, and the part size is the server's.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { MIB } from '@speos-portal/protocol';
import { startFaultProxy } from '@speos-portal/test-support/fault-proxy.js';
import { md5Stored, writeRandomFile } from '@speos-portal/test-support/files.js';
import { startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortalClient } from '../api-client.js';
import type { PartTransport, PutPartRequest } from '../transport.js';
import { Uploader, type UploaderOptions } from '../uploader.js';
import { NodeFileSource } from './file-source.js';
import { NodeHttpTransport } from './http-transport.js';

let portal: TestPortal;
let bigParts: TestPortal;
let dir: string;
const inner = new NodeHttpTransport({ maxSockets: 32 });

/**
 * The real transport, counting parts in flight: a part is in flight from its first attempt
 * until the uploader says it is done (its retries are not new parts). A lowered limit lets
 * the parts already in flight finish; it only holds back new ones.
 */
class CountingTransport implements PartTransport {
  readonly maxParallel = inner.maxParallel;
  readonly #started = new Set<number>();
  inFlight = 0;
  peak = 0;
  /** Parts in flight when a new part started above the limit in force. */
  readonly overLimit: number[] = [];
  limit = () => Number.POSITIVE_INFINITY;
  putPart(request: PutPartRequest) {
    if (!this.#started.has(request.partNumber)) {
      this.#started.add(request.partNumber);
      this.inFlight++;
      this.peak = Math.max(this.peak, this.inFlight);
      if (this.inFlight > this.limit()) this.overLimit.push(this.inFlight);
    }
    return inner.putPart(request);
  }
  partDone() {
    this.inFlight--;
  }
}

beforeAll(async () => {
  portal = await startTestPortal();
  bigParts = await startTestPortal({ CHUNK_SIZE: String(8 * MIB) });
  dir = await tempDir('speos-adaptive-');
});
afterAll(async () => {
  inner.close();
  await portal?.close();
  await bigParts?.close();
  await rm(dir, { recursive: true, force: true });
});

async function upload(baseUrl: string, name: string, size: number, extra: Partial<UploaderOptions> = {}) {
  const file = path.join(dir, name);
  const md5 = await writeRandomFile(file, size);
  const transport = new CountingTransport();
  const up = new Uploader({
    api: new PortalClient({ baseUrl }),
    transport,
    source: await NodeFileSource.open(file),
    retry: { baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 12 },
    ...extra,
  });
  const limits: { limit: number; reason: string }[] = [];
  let current = extra.concurrency ?? 0;
  up.on('concurrency', (c) => {
    limits.push(c);
    current = c.limit;
  });
  transport.limit = () => current;
  up.on('part-done', () => transport.partDone());
  const result = await up.start();
  return { result, md5, limits, transport };
}

describe('adaptive concurrency (real portal, Node transport)', () => {
  it('completes byte-identical, starting at 4 parts and never above the limit in force', async () => {
    const { result, md5, limits, transport } = await upload(portal.url, 'auto.speos', 61 * MIB + 7);
    expect(await md5Stored(portal.url, result.taskId)).toBe(md5);
    expect(result.partsSent).toBe(13);
    expect(limits[0]).toEqual({ limit: 4, reason: 'start' });
    expect(transport.peak).toBeGreaterThanOrEqual(4); // the first four start together
    expect(transport.overLimit).toEqual([]);
    for (const { limit } of limits) expect(limit).toBeLessThanOrEqual(32);
  });

  it('completes through resets, 500s and stalls, backing off on them', async () => {
    const proxy = await startFaultProxy(portal.url, { resetRate: 0.2, errorRate: 0.2, hangRate: 0.05, seed: 11 });
    try {
      const { result, md5, limits, transport } = await upload(proxy.url, 'faults.speos', 41 * MIB, {
        stallTimeoutMs: 2000,
      });
      expect(await md5Stored(portal.url, result.taskId)).toBe(md5);
      expect(proxy.stats.resets + proxy.stats.injected500).toBeGreaterThan(0);
      expect(limits.some((l) => l.reason === 'failure')).toBe(true);
      expect(transport.overLimit).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('a manual concurrency wins: exactly that many in flight, nothing adapted', async () => {
    const { result, md5, limits, transport } = await upload(portal.url, 'fixed.speos', 31 * MIB, { concurrency: 2 });
    expect(await md5Stored(portal.url, result.taskId)).toBe(md5);
    expect(limits).toEqual([]);
    expect(transport.peak).toBe(2);
  });

  it("uses the server's part size (CHUNK_SIZE) unless the caller asks for one", async () => {
    const own = await upload(bigParts.url, 'server-size.speos', 40 * MIB);
    expect(own.result.partsSent).toBe(5); // 8 MiB parts
    expect(await md5Stored(bigParts.url, own.result.taskId)).toBe(own.md5);
    const asked = await upload(bigParts.url, 'client-size.speos', 40 * MIB, { chunkSize: 5 * MIB });
    expect(asked.result.partsSent).toBe(8);
  });
});
