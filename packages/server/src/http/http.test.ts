import { ERROR_CODES } from '@speos-portal/protocol';
import { randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ALICE = 'alice-token-0123456789';
const BOB = 'bob-token-0123456789ab';

describe('auth with AUTH_TOKENS', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal({ AUTH_TOKENS: `${ALICE}:alice,${BOB}:bob` });
  });
  afterAll(() => portal.close());

  it('needs a valid bearer token on API routes', async () => {
    const none = await new TestApi(portal.url).get('/tasks');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(none.body.detail).toContain('Authorization: Bearer');
    const wrong = await new TestApi(portal.url, 'x'.repeat(22)).get('/tasks');
    expect(wrong.status).toBe(401);
    const viaApi = await new TestApi(portal.url).post('/api/tasks/upload/multipart/init', {
      filename: 'a',
      file_size: 1,
    });
    expect(viaApi.status).toBe(401);
  });

  it('keeps docs, health and signed part URLs public', async () => {
    for (const path of ['/healthz', '/readyz', '/openapi.json', '/docs']) {
      const res = await fetch(`${portal.url}${path}`);
      expect(res.status, path).toBe(200);
    }
    const alice = new TestApi(portal.url, ALICE);
    const { init } = await alice.uploadFile(randomBytesSeeded(100), {}); // PUTs carry no token
    expect(init.task_id).toBeTruthy();
  });

  it("hides other users' tasks and uploads behind 404", async () => {
    const alice = new TestApi(portal.url, ALICE);
    const bob = new TestApi(portal.url, BOB);
    const { init, ref, parts } = await alice.uploadFile(randomBytesSeeded(100));
    expect((await bob.get(`/tasks/${init.task_id}`)).status).toBe(404);
    expect((await bob.get(`/tasks/${init.task_id}/files/master`)).status).toBe(404);
    expect((await bob.post('/tasks/upload/multipart/list', ref)).status).toBe(404);
    expect((await bob.post('/tasks/upload/multipart/complete', { ...ref, parts })).status).toBe(404);
    expect((await bob.post('/tasks/upload/multipart/abort', ref)).status).toBe(404);
    expect((await bob.post('/tasks/upload/multipart/sign', ref)).status).toBe(404);
    const bobConfirm = await bob.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: 'stolen',
    });
    expect(bobConfirm.status).toBe(404);
    const attach = await bob.init({ filename: 'x.zip', file_size: 1, task_id: init.task_id, file_type: 'include' });
    expect(attach.status).toBe(404);
    // Still uploading: listed when asked for by status.
    const uploading = '/tasks?status=UPLOADING';
    expect((await bob.get(uploading)).body.items.map((t: { task_id: string }) => t.task_id)).not.toContain(
      init.task_id,
    );
    expect((await alice.get(uploading)).body.items.map((t: { task_id: string }) => t.task_id)).toContain(init.task_id);
    const confirmed = await alice.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: 'mine',
    });
    expect(confirmed.status).toBe(200);
    expect((await alice.get(`/tasks/${init.task_id}`)).body.submitter).toBe('alice');
  });
});

describe('operations and documentation', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal();
  });
  afterAll(() => portal.close());

  it('serves every route under /api too', async () => {
    const api = new TestApi(`${portal.url}/api`);
    const { init } = await api.uploadFile(randomBytesSeeded(1000));
    const confirmed = await api.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: 'via api',
    });
    expect(confirmed.status).toBe(200);
    expect((await api.get(`/tasks/${init.task_id}`)).body.status).toBe('PENDING');
    expect((await api.get('/tasks/upload/config')).status).toBe(200);
  });

  it('describes uploads for clients at /tasks/upload/config and /v2/upload/config', async () => {
    const api = new TestApi(portal.url);
    const config = await api.get('/tasks/upload/config');
    expect(config.body).toMatchObject({
      upload_mode: 'tos',
      max_file_size_mb: 500,
      chunk_size_mb: 5,
      url_ttl_seconds: 3600,
      speos_versions: expect.arrayContaining(['v252']),
      profiles: expect.arrayContaining(['Standard']),
      max_thread_count: 64,
    });
    expect((await api.get('/v2/upload/config')).body).toEqual(config.body);
  });

  it('answers health, readiness and Prometheus metrics', async () => {
    expect(await (await fetch(`${portal.url}/healthz`)).json()).toMatchObject({ status: 'ok' });
    expect(await (await fetch(`${portal.url}/readyz`)).json()).toEqual({ status: 'ready' });
    const api = new TestApi(portal.url);
    await api.uploadFile(randomBytesSeeded(5000));
    await api.post('/tasks/upload/multipart/list', { task_id: 'x' });
    const metrics = await (await fetch(`${portal.url}/metrics`)).text();
    expect(metrics).toMatch(
      /speos_http_requests_total\{route="\/tasks\/upload\/multipart\/init",method="POST",status="200"\} \d+/,
    );
    expect(metrics).toMatch(/speos_upload_bytes_received_total [1-9]\d*/);
    expect(metrics).toMatch(/speos_upload_parts_stored_total [1-9]/);
    expect(metrics).toMatch(/speos_uploads\{status="COMPLETED"\} [1-9]/);
    expect(metrics).toMatch(/speos_uploads_completed_total [1-9]/);
    expect(metrics).toMatch(/speos_errors_total\{code="VALIDATION_FAILED"\} [1-9]/);
  });

  it('sends a request id back, keeping the one the client sent', async () => {
    const res = await fetch(`${portal.url}/healthz`, { headers: { 'x-request-id': 'trace-42' } });
    expect(res.headers.get('x-request-id')).toBe('trace-42');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await new TestApi(portal.url).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ code: 'NOT_FOUND', detail: expect.stringContaining('/docs') });
  });

  it('documents every upload and task route and every error code in /openapi.json', async () => {
    const doc = await (await fetch(`${portal.url}/openapi.json`)).json();
    const paths = Object.keys(doc.paths);
    for (const path of [
      '/tasks/upload/multipart/init',
      '/storage/uploads/{upload_id}/parts/{part_number}',
      '/tasks/upload/multipart/complete',
      '/tasks/upload/confirm',
      '/tasks/upload/multipart/list',
      '/tasks/upload/multipart/abort',
      '/tasks/upload/multipart/sign',
      '/tasks/upload/config',
      '/tasks',
      '/tasks/{task_id}',
      '/tasks/{task_id}/detail',
      '/tasks/{task_id}/files/{file_type}',
      '/workers',
    ]) {
      expect(paths).toContain(path);
    }
    expect(paths.some((p) => p.startsWith('/api/'))).toBe(false);
    const form = doc.paths['/tasks'].post.requestBody.content['multipart/form-data'].schema;
    expect(form.properties.master_file).toMatchObject({ type: 'string', format: 'binary' });
    expect(form.required).toEqual(['master_file', 'job_name']);
    expect(doc.paths['/tasks/{task_id}/retry'].post.parameters).toContainEqual(
      expect.objectContaining({ in: 'header', name: 'idempotency-key' }),
    );
    const text = JSON.stringify(doc);
    const documented = ERROR_CODES.filter((code) => text.includes(`\`${code}\``));
    const notRouteErrors = [
      'UNAUTHENTICATED',
      'NOT_FOUND',
      'RATE_LIMITED',
      'STORAGE_UNAVAILABLE',
      'DATABASE_UNAVAILABLE',
      'UNSUPPORTED_MEDIA_TYPE',
      'TASK_NOT_RUNNING',
      // Answered before a route is known (unreadable HTTP, URL, headers or body size).
      'BAD_REQUEST',
      'REQUEST_TIMEOUT',
      'REQUEST_TOO_LARGE',
      'URI_TOO_LONG',
      'HEADERS_TOO_LARGE',
    ];
    expect(ERROR_CODES.filter((c) => !documented.includes(c) && !notRouteErrors.includes(c))).toEqual([]);
    const html = await (await fetch(`${portal.url}/docs`)).text();
    expect(html.toLowerCase()).toContain('swagger');
  });
});

describe('the web UI at /', () => {
  it('serves the built UI, public even with auth on, without shadowing the API', async () => {
    const { mkdir, writeFile } = await import('node:fs/promises');
    const { tempDir } = await import('@speos-portal/test-support/portal.js');
    const web = await tempDir('speos-web-');
    await mkdir(`${web}/assets`);
    await writeFile(`${web}/index.html`, '<!doctype html><div id="root"></div>');
    await writeFile(`${web}/assets/app-1a2b.js`, 'console.log("ui")');
    const portal = await startTestPortal({ WEB_DIR: web, AUTH_TOKENS: `${ALICE}:alice` });
    try {
      const page = await fetch(`${portal.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(await page.text()).toContain('id="root"');
      const asset = await fetch(`${portal.url}/assets/app-1a2b.js`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toContain('immutable');
      expect((await fetch(`${portal.url}/tasks`)).status).toBe(401);
    } finally {
      await portal.close();
    }
  });

  it('sends / to the API docs when no UI is built', async () => {
    const portal = await startTestPortal({ WEB_DIR: '/nonexistent' });
    try {
      const res = await fetch(`${portal.url}/`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/docs');
    } finally {
      await portal.close();
    }
  });
});
