/**
 * The inputs of the black-box attack (issue 10), each sent as it was: every one gets a 4xx
 * with the `{detail, code}` envelope, changes nothing, and user files are served so that
 * no browser renders them as a page of this origin.
 */
import { connect } from 'node:net';
import { randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let portal: TestPortal;
let api: TestApi;
beforeAll(async () => {
  portal = await startTestPortal();
  api = new TestApi(portal.url);
});
afterAll(() => portal.close());

function expectEnvelope(res: { status: number; body: unknown }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toMatchObject({ code, detail: expect.any(String) });
  expect((res.body as { detail: string }).detail.length).toBeGreaterThan(10);
}

/** Raw bytes to the server (what fetch refuses to send); the whole answer. */
function raw(text: string): Promise<{ status: number; body: unknown; head: string }> {
  const { hostname, port } = new URL(portal.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('end', () => {
      answer = answer.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''); // the interim answer
      const split = answer.indexOf('\r\n\r\n');
      const head = answer.slice(0, split);
      const text = answer.slice(split + 4);
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), body, head });
    });
    socket.on('error', reject);
    socket.write(text); // not end(): a half-closed socket is dropped before a 100-continue answer
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${text.slice(0, 60)}`)));
  });
}

describe('non-finite and oversized numbers', () => {
  it('refuses init with chunk_size Infinity, 1e400, NaN… with 422 and leaves no task', async () => {
    for (const body of [
      '{"filename":"a.zip","file_size":10,"chunk_size":"Infinity"}',
      '{"filename":"a.zip","file_size":10,"chunk_size":"1e400"}',
      '{"filename":"a.zip","file_size":10,"chunk_size":1e400}',
      '{"filename":"a.zip","file_size":10,"chunk_size":"-Infinity"}',
      '{"filename":"a.zip","file_size":10,"chunk_size":"NaN"}',
      '{"filename":"a.zip","file_size":"Infinity"}',
      '{"filename":"a.zip","file_size":1e300}',
    ]) {
      const res = await fetch(`${portal.url}/tasks/upload/multipart/init`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const parsed = { status: res.status, body: await res.json() };
      expect([413, 422], body).toContain(parsed.status);
      expect(parsed.body.code, body).toMatch(/^(VALIDATION_FAILED|FILE_TOO_LARGE)$/);
    }
    expect((await api.get('/tasks')).body.total).toBe(0);
  });

  it('bounds every numeric query parameter: 422, never a database error', async () => {
    const { init } = await api.uploadFile(randomBytesSeeded(100));
    for (const query of [
      '/tasks?page=99999999999999999999',
      '/tasks?page=1e308',
      '/tasks?page=4611686018427387904',
      '/tasks?page=1000001',
      '/tasks?page_size=1e400',
      '/tasks?page=Infinity',
      `/tasks/${init.task_id}/logs?offset=99999999999999999999`,
      `/tasks/${init.task_id}/logs?offset=Infinity`,
      `/tasks/${init.task_id}/logs?limit=1e400`,
    ]) {
      expectEnvelope(await api.get(query), 422, 'VALIDATION_FAILED');
    }
    expect((await api.get('/tasks?page=1000000')).status).toBe(200);
  });
});

describe('errors Fastify itself used to answer', () => {
  it('answers an over-long path segment 414 with the envelope', async () => {
    expectEnvelope(await api.get(`/tasks/${'a'.repeat(150)}`), 414, 'URI_TOO_LONG');
    expectEnvelope(await api.post(`/tasks/${'a'.repeat(150)}/stop`, {}), 414, 'URI_TOO_LONG');
  });

  it('answers an oversized JSON body 413, a bad %-escape 400, unparseable HTTP 400 and huge headers 431', async () => {
    const big = await api.post('/tasks/upload/multipart/init', { filename: 'x'.repeat(5 * 1024 * 1024), file_size: 1 });
    expectEnvelope(big, 413, 'REQUEST_TOO_LARGE');
    expectEnvelope(await api.get('/tasks/%E0%A4%A'), 400, 'BAD_REQUEST');
    const garbage = await raw('GARBAGE\r\n\r\n');
    expectEnvelope(garbage, 400, 'BAD_REQUEST');
    expect(garbage.head).toContain('X-Content-Type-Options: nosniff');
    const headers = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectEnvelope(headers, 431, 'HEADERS_TOO_LARGE');
    const length = await raw(
      'POST /tasks/upload/multipart/init HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
    );
    expectEnvelope(length, 400, 'BAD_REQUEST');
  });

  it('answers a Range outside the file 416 with the envelope', async () => {
    const { init } = await api.uploadFile(randomBytesSeeded(100));
    const res = await fetch(`${portal.url}/tasks/${init.task_id}/files/master`, { headers: { range: 'bytes=500-' } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe('bytes */100');
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toMatchObject({ code: 'RANGE_NOT_SATISFIABLE' });
  });

  it('answers 100-continue requests whose target is not a URL, and keeps serving', async () => {
    for (const target of ['//', '//[', '/%', '//storage/uploads/x/parts/1']) {
      for (const method of ['GET', 'PUT', 'POST']) {
        const res = await raw(
          `${method} ${target} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        );
        // GET // is the web UI's page (the router ignores the doubled slash); the rest are 4xx.
        expect(res.status, `${method} ${target}: ${res.head}`).toBeLessThan(500);
        if (res.status >= 400) {
          expect(res.body, `${method} ${target}`).toMatchObject({
            code: expect.any(String),
            detail: expect.any(String),
          });
        } else {
          expect(`${method} ${target}`).toBe('GET //');
        }
      }
    }
    expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
  });
});

describe('deeply nested JSON', () => {
  it('answers a retry whose body nests 20,000 levels deep with a 4xx, not a stack overflow', async () => {
    // Found by the fuzz test: unknown fields went into the Idempotency-Key fingerprint, which recurses.
    const body = `{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    for (const key of [undefined, 'deep-nesting-key-01']) {
      const res = await fetch(`${portal.url}/tasks/226ec75a-1860-4ead-a0e8-71e1f2c60eb5/retry?limit=%00`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
        body,
      });
      expectEnvelope({ status: res.status, body: await res.json() }, 404, 'TASK_NOT_FOUND');
    }
  });
});

describe('downloads and security headers', () => {
  it('serves a master uploaded as text/html as an attachment that no browser renders', async () => {
    const page = Buffer.from('<html><script>alert(document.cookie)</script></html>');
    const { init } = await api.uploadFile(page, { filename: 'evil.speos', content_type: 'text/html' });
    const res = await fetch(`${portal.url}/tasks/${init.task_id}/files/master`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; /);
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    expect(Buffer.from(await res.arrayBuffer()).equals(page)).toBe(true);
    // A passive type is kept.
    const { init: zip } = await api.uploadFile(randomBytesSeeded(50), { content_type: 'application/zip' });
    expect((await fetch(`${portal.url}/tasks/${zip.task_id}/files/master`)).headers.get('content-type')).toBe(
      'application/zip',
    );
  });

  it('sends the usual security headers on API answers', async () => {
    const res = await fetch(`${portal.url}/tasks`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });
});
