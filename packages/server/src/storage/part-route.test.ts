import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { asBody, MiB, randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { md5, startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseChunk } from './part-route.js';

let portal: TestPortal;
let api: TestApi;

beforeAll(async () => {
  portal = await startTestPortal({ CORS_ORIGINS: 'http://portal.example' });
  api = new TestApi(portal.url);
});
afterAll(() => portal.close());

const data = randomBytesSeeded(7 * MiB, 7);

async function freshUpload() {
  const res = await api.init({ filename: 'part-test.speos', file_size: data.length });
  expect(res.status).toBe(200);
  return res.body;
}

function withParam(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.toString();
}

describe('PUT {upload_url}', () => {
  it('answers exactly 200, an empty body and the quoted MD5 as ETag', async () => {
    const init = await freshUpload();
    const part = init.parts[0];
    const res = await fetch(part.upload_url, { method: 'PUT', body: asBody(data.subarray(0, part.size)) });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${md5(data.subarray(0, part.size))}"`);
    expect(await res.text()).toBe('');
  });

  it('accepts any content type, and no content type at all', async () => {
    const init = await freshUpload();
    const [p1, p2] = init.parts;
    const zip = await fetch(p1.upload_url, {
      method: 'PUT',
      body: asBody(data.subarray(p1.start_byte, p1.end_byte)),
      headers: { 'content-type': 'application/zip' },
    });
    expect(zip.status).toBe(200);
    const blob = await fetch(p2.upload_url, {
      method: 'PUT',
      body: new Blob([asBody(data.subarray(p2.start_byte, p2.end_byte)) as BlobPart]),
    });
    expect(blob.status).toBe(200);
  });

  it('refuses a body of the wrong length with 400 PART_SIZE_MISMATCH and keeps nothing', async () => {
    const init = await freshUpload();
    const part = init.parts[0];
    const short = await api.putPart(part.upload_url, data.subarray(0, part.size - 1));
    expect(short.status).toBe(400);
    expect(short.body.code).toBe('PART_SIZE_MISMATCH');
    expect(short.body.detail).toContain(String(part.size));
    const long = await api.putPart(part.upload_url, data.subarray(0, part.size + 1));
    expect(long.status).toBe(400);
    expect(long.body.code).toBe('PART_SIZE_MISMATCH');
    const list = await api.post('/tasks/upload/multipart/list', init);
    expect(list.body.parts).toEqual([]);
  });

  it('refuses a streamed body (no Content-Length) that runs past the part size', async () => {
    const init = await freshUpload();
    const part = init.parts[1]; // 2 MiB
    const oversized = data.subarray(0, part.size + 100_000);
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < oversized.length; i += 65536) controller.enqueue(oversized.subarray(i, i + 65536));
        controller.close();
      },
    });
    const res = await fetch(part.upload_url, { method: 'PUT', body: stream, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe('PART_SIZE_MISMATCH');
  });

  it('refuses tampered URLs with 403 SIGNATURE_INVALID', async () => {
    const init = await freshUpload();
    const [p1, p2] = init.parts;
    const body = data.subarray(0, p1.size);
    const cases = [
      withParam(p1.upload_url, 'signature', 'A'.repeat(43)),
      withParam(p1.upload_url, 'expires', String(init.expires_at + 3600)),
      withParam(p1.upload_url, 'size', String(p1.size - 1)),
      p1.upload_url.replace('/parts/1?', '/parts/2?'),
      p2.upload_url.replace(init.upload_id, 'f'.repeat(32)),
    ];
    for (const url of cases) {
      const res = await api.putPart(url, body);
      expect(res.status, url).toBe(403);
      expect(res.body.code).toBe('SIGNATURE_INVALID');
    }
    const malformed = await api.putPart(p1.upload_url.replace(/signature=[^&]+/, ''), body);
    expect(malformed.status).toBe(422);
  });

  it('refuses an expired URL with 403 URL_EXPIRED, and sign gives a working one', async () => {
    // The portal's clock, moved past the URL's expiry instead of waiting for it.
    let now = Date.now();
    const shortLived = await startTestPortal({ URL_TTL_SECONDS: '1' }, { clock: () => now });
    try {
      const short = new TestApi(shortLived.url);
      const init = (await short.init({ filename: 'a.speos', file_size: 1000 })).body;
      now += 2100;
      const expired = await short.putPart(init.parts[0].upload_url, data.subarray(0, 1000));
      expect(expired.status).toBe(403);
      expect(expired.body.code).toBe('URL_EXPIRED');
      expect(expired.body.detail).toContain('/tasks/upload/multipart/sign');
      const signed = await short.post('/tasks/upload/multipart/sign', init);
      const retried = await short.putPart(signed.body.parts[0].upload_url, data.subarray(0, 1000));
      expect(retried.status).toBe(200);
    } finally {
      await shortLived.close();
    }
  });

  it('replaces a re-sent part', async () => {
    const init = await freshUpload();
    const part = init.parts[0];
    const first = await api.putPart(part.upload_url, randomBytesSeeded(part.size, 100));
    const second = await api.putPart(part.upload_url, randomBytesSeeded(part.size, 200));
    expect(first.etag).not.toBe(second.etag);
    const list = await api.post('/tasks/upload/multipart/list', init);
    expect(list.body.parts).toEqual([{ part_number: 1, etag: second.etag, size: part.size }]);
  });

  it('never mixes the bytes of two concurrent PUTs of one part', async () => {
    const init = await freshUpload();
    const part = init.parts[0];
    const a = randomBytesSeeded(part.size, 11);
    const b = randomBytesSeeded(part.size, 22);
    for (let round = 0; round < 5; round++) {
      const [ra, rb] = await Promise.all([api.putPart(part.upload_url, a), api.putPart(part.upload_url, b)]);
      expect([ra.status, rb.status]).toEqual([200, 200]);
      const list = await api.post('/tasks/upload/multipart/list', init);
      const stored = list.body.parts[0].etag;
      expect([md5(a), md5(b)]).toContain(stored);
      // The bytes on disk are the ones the listed ETag names.
      const upload = path.join(portal.dataDir, 'storage', 'multipart', init.upload_id);
      const onDisk = await readFile(path.join(upload, '1'));
      expect(md5(onDisk)).toBe(stored);
    }
  });

  it('answers 404 NO_SUCH_UPLOAD after abort', async () => {
    const init = await freshUpload();
    await api.post('/tasks/upload/multipart/abort', init);
    const res = await api.putPart(init.parts[0].upload_url, data.subarray(0, init.parts[0].size));
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('NO_SUCH_UPLOAD');
  });

  it('answers CORS preflights and exposes ETag to browsers', async () => {
    const init = await freshUpload();
    const url = init.parts[1].upload_url;
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://portal.example',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://portal.example');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
    const put = await fetch(url, {
      method: 'PUT',
      body: asBody(data.subarray(init.parts[1].start_byte, init.parts[1].end_byte)),
      headers: { origin: 'http://portal.example' },
    });
    expect(put.headers.get('access-control-expose-headers')).toContain('ETag');
    const stranger = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'PUT' },
    });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('PUT with Expect: 100-continue', () => {
  /** Sends headers only, and reports whether the server said 100 or answered at once. */
  function probe(
    url: string,
    length: number,
  ): Promise<{ continued: boolean; status?: number; body?: string; connection?: string }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: { expect: '100-continue', 'content-length': length } });
      req.on('continue', () => {
        resolve({ continued: true });
        req.destroy();
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () =>
          resolve({ continued: false, status: res.statusCode, body, connection: res.headers.connection as string }),
        );
      });
      req.on('error', reject);
      req.flushHeaders();
    });
  }

  it('refuses a tampered or wrong-length part before the body is sent, and closes the connection', async () => {
    const init = await freshUpload();
    const part = init.parts[0];
    const tampered = await probe(withParam(part.upload_url, 'signature', 'x'.repeat(43)), part.size);
    expect(tampered).toMatchObject({ continued: false, status: 403, connection: 'close' });
    expect(JSON.parse(tampered.body!).code).toBe('SIGNATURE_INVALID');
    const wrongLength = await probe(part.upload_url, part.size + 1);
    expect(wrongLength).toMatchObject({ continued: false, status: 400 });
    expect(await probe(part.upload_url, part.size)).toEqual({ continued: true });
  });

  it('still stores a part sent after the go-ahead', async () => {
    const init = await freshUpload();
    const part = init.parts[1];
    const body = data.subarray(part.start_byte, part.end_byte);
    const status = await new Promise<{ status: number; etag: string }>((resolve, reject) => {
      const req = request(part.upload_url, {
        method: 'PUT',
        headers: { expect: '100-continue', 'content-length': body.length },
      });
      req.on('continue', () => req.end(body));
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, etag: String(res.headers.etag) }));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(status).toEqual({ status: 200, etag: `"${md5(body)}"` });
  });
});

describe('releaseChunk', () => {
  it('frees a chunk that is its whole buffer, and leaves shared or partial ones alone', () => {
    const whole = Buffer.from(new ArrayBuffer(16));
    releaseChunk(whole);
    expect(whole.buffer.byteLength).toBe(0); // detached: its memory is given back now
    const part = Buffer.from(new ArrayBuffer(16), 4, 8);
    releaseChunk(part);
    expect(part.buffer.byteLength).toBe(16);
    // No `transfer` on this buffer, as on Node 20: nothing happens, nothing throws (it was a 500).
    const shared = Buffer.from(new SharedArrayBuffer(16));
    expect(() => releaseChunk(shared)).not.toThrow();
    expect(shared.byteLength).toBe(16);
  });
});
