/**
 * Faults around a part PUT on a real server: the MD5 thread dies mid-part, the client goes
 * away mid-part, and requests reach code outside Fastify's error handling (the
 * 100-continue listener) with inputs that used to end the process.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { MiB, randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { freePort, md5, tempDir } from '@speos-portal/test-support/portal.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { type Db, openDatabase } from '../db/connect.js';
import { FsObjectStore } from './fs-store.js';
import { BATCH_BYTES, MAX_IN_TRANSIT, Md5Pool } from './md5-pool.js';
import { UrlSigner } from './url-signer.js';

interface LogLine {
  level: number;
  msg: string;
  request_id?: string;
  err?: { stack?: string };
  [key: string]: unknown;
}

/** A real server whose hash pool and log lines the test can reach. */
async function startServer() {
  const dataDir = await tempDir();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({ PORT: String(port), DATA_DIR: dataDir });
  const db = await openDatabase(undefined, dataDir);
  const pool = new Md5Pool(1);
  const store = new FsObjectStore({
    root: path.join(dataDir, 'storage'),
    signer: new UrlSigner('k'.repeat(32)),
    publicUrl: url,
    hasher: pool,
  });
  await store.init();
  const lines: LogLine[] = [];
  const app: FastifyInstance = await buildApp({
    config,
    db,
    store,
    logger: { level: 'info', stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
  });
  await app.listen({ port, host: '127.0.0.1' });
  return { url, app, db, pool, store, lines, dataDir };
}

/** PUTs `first` bytes of `data`, waits for `between`, then sends the rest (or not). */
function slowPut(url: string, data: Buffer, first: number, between: () => Promise<'rest' | 'abort'>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string } | 'aborted'>((resolve) => {
    const req = request(url, { method: 'PUT', headers: { 'content-length': data.length } }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', () => resolve('aborted'));
    req.write(data.subarray(0, first));
    void between().then((next) => {
      if (next === 'rest') req.end(data.subarray(first));
      else req.destroy();
    });
  });
}

async function until(predicate: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a part PUT when things go wrong', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let api: TestApi;
  beforeAll(async () => {
    server = await startServer();
    api = new TestApi(server.url);
  });
  afterAll(async () => {
    await server.app.close();
    await server.store.close();
    await server.db.destroy();
  });

  it('answers 503 with Retry-After when the hash thread dies mid-part, and hashes the resent part', async () => {
    const data = randomBytesSeeded(5 * MiB, 11);
    const init = (await api.init({ filename: 'crash.speos', file_size: data.length })).body;
    const url = init.parts[0].upload_url;
    const answer = await slowPut(url, data, 3 * BATCH_BYTES, async () => {
      // The first batches were handed to the thread: kill it while the part is open.
      await until(() => server.pool.threads.length === 1);
      await new Promise((r) => setTimeout(r, 200));
      await server.pool.threads[0]!.terminate();
      return 'rest';
    });
    expect(answer).not.toBe('aborted');
    const res = answer as Exclude<typeof answer, 'aborted'>;
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(JSON.parse(res.body)).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(JSON.parse(res.body).detail).toContain('Send the part again');
    // Nothing was stored for the failed attempt; the resend is hashed by a new thread.
    expect((await api.post('/tasks/upload/multipart/list', init)).body.parts).toEqual([]);
    const again = await api.putPart(url, data);
    expect(again).toMatchObject({ status: 200, etag: md5(data) });
    expect(server.pool.threads).toHaveLength(1);
  });

  it('logs a client that goes away mid-part as one info line, without a stack', async () => {
    const data = randomBytesSeeded(3 * MiB, 12);
    const init = (await api.init({ filename: 'reload.speos', file_size: data.length })).body;
    const before = server.lines.length;
    const answer = await slowPut(init.parts[0].upload_url, data, MiB, async () => {
      await new Promise((r) => setTimeout(r, 300));
      return 'abort'; // as a browser reloading the page
    });
    expect(answer).toBe('aborted');
    await until(() => server.lines.slice(before).some((l) => l.msg.includes('client went away')));
    await new Promise((r) => setTimeout(r, 300));
    const lines = server.lines.slice(before);
    const gone = lines.filter((l) => l.msg.includes('client went away'));
    expect(gone).toHaveLength(1);
    expect(gone[0]!.level).toBeLessThanOrEqual(40);
    expect(JSON.stringify(gone[0])).not.toContain('stack');
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    // The half-sent part left nothing behind.
    expect((await api.post('/tasks/upload/multipart/list', init)).body.parts).toEqual([]);
  });

  it('survives Expect: 100-continue with targets that are not URLs, answering each with the envelope', async () => {
    for (const [method, target] of [
      ['PUT', '//'],
      ['GET', '//['],
      ['PUT', '//storage/uploads/x/parts/1'],
      ['PUT', `/storage/uploads/${'a'.repeat(32)}/parts/1?size=1e400&expires=NaN&signature=%zz`],
      ['POST', '/tasks/upload/multipart/init?%'],
    ]) {
      const answer = await rawRequest(
        server.url,
        `${method} ${target} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n`,
        '{}',
      );
      const status = Number(/^HTTP\/1\.1 (\d{3})/m.exec(answer.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''))?.[1]);
      expect(status, `${method} ${target}: ${answer}`).toBeGreaterThanOrEqual(400);
      expect(status, `${method} ${target}: ${answer}`).toBeLessThan(500);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n{') + 4))).toMatchObject({
        detail: expect.any(String),
        code: expect.any(String),
      });
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('answers 500 with the request id, and keeps serving, when code outside Fastify throws', async () => {
    // TEST DOUBLE: a signer whose verify throws a TypeError stands in for a bug in the
    // 100-continue listener, which runs outside Fastify's error handling.
    const real = server.store.signer.verify;
    server.store.signer.verify = () => {
      throw new TypeError('a bug');
    };
    try {
      const before = server.lines.length;
      const answer = await rawRequest(
        server.url,
        `PUT /storage/uploads/${'b'.repeat(32)}/parts/1?size=2&expires=1&signature=x HTTP/1.1\r\nHost: x\r\nX-Request-Id: trace-77\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n`,
        '',
      );
      expect(answer).toMatch(/^HTTP\/1\.1 500 /);
      expect(answer).toContain('X-Request-Id: trace-77');
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
        code: 'INTERNAL_ERROR',
        detail: 'Unexpected server error; the server log has request id trace-77.',
      });
      const logged = server.lines.slice(before).filter((l) => l.level >= 50);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ request_id: 'trace-77', where: 'checkContinue' });
    } finally {
      server.store.signer.verify = real;
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe('the MD5 pool', () => {
  it('fails every session of a dead thread, replaces it, and hashes inline after close', async () => {
    const pool = new Md5Pool(1);
    const bytes = randomBytesSeeded(BATCH_BYTES, 3);
    const fill = () => {
      const buffer = pool.buffer();
      bytes.copy(buffer);
      return buffer;
    };
    const a = pool.session();
    const b = pool.session();
    a.push(fill(), bytes.length);
    await pool.threads[0]!.terminate();
    await expect(a.digest()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    await expect(b.digest()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(pool.threads).toHaveLength(0);
    const c = pool.session();
    c.push(fill(), bytes.length);
    expect(await c.digest()).toBe(md5(bytes));
    expect(pool.threads).toHaveLength(1);
    await pool.close();
    expect(pool.threads).toHaveLength(0);
    const d = pool.session();
    d.push(fill(), bytes.length);
    expect(await d.digest()).toBe(md5(bytes));
  });

  // A busy machine can starve the hash thread; the sockets must then wait, not pile up batches.
  it('keeps at most MAX_IN_TRANSIT batches out; a push beyond waits, and the hash keeps every batch in order', async () => {
    const pool = new Md5Pool(1);
    const batches = Array.from({ length: MAX_IN_TRANSIT * 3 }, (_, i) => randomBytesSeeded(BATCH_BYTES, 100 + i));
    const session = pool.session();
    const pushes = batches.map((bytes) => {
      const buffer = pool.buffer();
      bytes.copy(buffer);
      const pushed = session.push(buffer, bytes.length);
      expect(pool.batchesOut).toBeLessThanOrEqual(MAX_IN_TRANSIT);
      return pushed;
    });
    // All pushed in one go: the thread cannot have handed a batch back yet, so the rest wait.
    expect(pool.batchesOut).toBe(MAX_IN_TRANSIT);
    await Promise.all(pushes);
    expect(await session.digest()).toBe(md5(Buffer.concat(batches)));
    await vi.waitFor(() => expect(pool.batchesOut).toBe(0));
    await pool.close();
  });

  it('frees the slots of a thread that dies with pushes waiting, and fails that part', async () => {
    const pool = new Md5Pool(1);
    const bytes = randomBytesSeeded(BATCH_BYTES, 5);
    const doomed = pool.session();
    const pushes = Array.from({ length: MAX_IN_TRANSIT + 4 }, () => {
      const buffer = pool.buffer();
      bytes.copy(buffer);
      return doomed.push(buffer, bytes.length);
    });
    await pool.threads[0]!.terminate();
    await Promise.all(pushes); // the waiting pushes find the thread gone and send nothing
    await expect(doomed.digest()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(pool.batchesOut).toBe(0);
    const next = pool.session();
    const buffer = pool.buffer();
    bytes.copy(buffer);
    await next.push(buffer, bytes.length);
    expect(await next.digest()).toBe(md5(bytes));
    await pool.close();
  });
});

/** Sends raw bytes (a request target fetch would refuse to send) and reads the whole answer. */
function rawRequest(base: string, head: string, body: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.startsWith('HTTP/1.1 100') && body) {
        socket.write(body);
        body = '';
      }
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.write(head);
    setTimeout(() => {
      if (body) socket.write(body); // the server answered without 100 Continue
      body = '';
    }, 200);
  });
}
