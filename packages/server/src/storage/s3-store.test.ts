/**
 * What the S3 store does beyond the shared contract, against a real S3-compatible server:
 * ListParts paging, the S3-only errors, the retried-complete fallback, downloads, and the
 * start-up checks' messages.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ApiError } from '@speos-portal/protocol';
import { asBody } from '@speos-portal/test-support/api.js';
import { freePort } from '@speos-portal/test-support/portal.js';
import { s3TestOptions } from '@speos-portal/test-support/services.js';
import { afterAll, describe, expect, it } from 'vitest';
import { multipartEtag } from './fs-store.js';
import { corsRulesProblem, mapS3Error, S3ObjectStore } from './s3-store.js';

const options = s3TestOptions('S3 store specifics');
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const soon = () => Math.floor(Date.now() / 1000) + 600;

async function put(url: string, body: Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'PUT', body: asBody(body), headers });
  await res.arrayBuffer();
  return res;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(
    () => undefined,
    (e: unknown) => (e instanceof ApiError ? e.code : `not an ApiError: ${String(e)}`),
  );
}

describe('mapS3Error', () => {
  it.each([
    [{ name: 'NoSuchUpload', $metadata: { httpStatusCode: 404 } }, 'NO_SUCH_UPLOAD'],
    [{ name: 'InvalidPart', $metadata: { httpStatusCode: 400 } }, 'ETAG_MISMATCH'],
    [{ name: 'InvalidPartOrder', $metadata: { httpStatusCode: 400 } }, 'INVALID_PART_ORDER'],
    [{ name: 'EntityTooSmall', $metadata: { httpStatusCode: 400 } }, 'PART_SIZE_MISMATCH'],
    [{ name: 'InternalError', $metadata: { httpStatusCode: 500 } }, 'STORAGE_UNAVAILABLE'],
    [{ name: 'SlowDown', $metadata: { httpStatusCode: 503 } }, 'STORAGE_UNAVAILABLE'],
    [{ name: 'InsufficientStorage', $metadata: { httpStatusCode: 507 } }, 'INSUFFICIENT_STORAGE'],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'STORAGE_UNAVAILABLE'],
  ])('maps %o to %s', (error, code) => {
    const mapped = mapS3Error(error, { operation: 'Test', uploadId: 'u1' });
    expect(mapped).toBeInstanceOf(ApiError);
    expect((mapped as ApiError).code).toBe(code);
  });

  it('leaves a refusal the caller cannot fix as it is (a 500 with the request id)', () => {
    const denied = { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } };
    expect(mapS3Error(denied, { operation: 'Test' })).toBe(denied);
  });
});

describe('corsRulesProblem', () => {
  it('is content with a rule that allows PUT and exposes ETag (in any case)', () => {
    const rules = [
      { AllowedMethods: ['GET'], ExposeHeaders: [] },
      { AllowedMethods: ['put', 'GET'], ExposeHeaders: ['x-amz-request-id', 'Etag'] },
    ];
    expect(corsRulesProblem('b', rules)).toBeNull();
  });

  it('names the bucket and the missing piece otherwise', () => {
    expect(corsRulesProblem('b', [])).toMatch(/bucket "b" has no CORS configuration/);
    expect(corsRulesProblem('b', [{ AllowedMethods: ['PUT'] }])).toMatch(/exposes the ETag header/);
    expect(corsRulesProblem('b', [{ AllowedMethods: ['GET'], ExposeHeaders: ['ETag'] }])).toMatch(/allows PUT/);
  });
});

describe.skipIf(!options)('S3 store on a real server', () => {
  const store = new S3ObjectStore({ ...options!, listPartsPageSize: 2 });
  const keys: string[] = [];
  const newKey = () => {
    const key = `s3-store-test/${randomUUID()}/file.bin`;
    keys.push(key);
    return key;
  };
  afterAll(async () => {
    for (const key of keys) await store.deleteObject(key).catch(() => {});
    store.destroy();
  });

  it('pages through ListParts', async () => {
    const key = newKey();
    const uploadId = await store.createMultipartUpload(key, { contentType: 'application/octet-stream' });
    for (const n of [5, 1, 4, 2, 3]) {
      const data = randomBytes(100 + n);
      const url = await store.presignUploadPart(key, uploadId, n, { size: data.length, expiresAt: soon() });
      expect((await put(url, data)).status).toBe(200);
    }
    const parts = await store.listParts(key, uploadId);
    expect(parts.map((p) => [p.partNumber, p.size])).toEqual([
      [1, 101],
      [2, 102],
      [3, 103],
      [4, 104],
      [5, 105],
    ]);
    await store.abortMultipartUpload(key, uploadId);
  });

  it('refuses a body of another length than the URL was signed for (Content-Length is signed)', async () => {
    const key = newKey();
    const uploadId = await store.createMultipartUpload(key, { contentType: 'application/octet-stream' });
    const url = await store.presignUploadPart(key, uploadId, 1, { size: 1000, expiresAt: soon() });
    expect((await put(url, randomBytes(999))).status).toBe(403);
    expect((await put(url, randomBytes(1000))).status).toBe(200);
    await store.abortMultipartUpload(key, uploadId);
  });

  it('maps EntityTooSmall (a non-last part under 5 MiB) to PART_SIZE_MISMATCH', async () => {
    const key = newKey();
    const uploadId = await store.createMultipartUpload(key, { contentType: 'application/octet-stream' });
    const parts = [randomBytes(1024), randomBytes(1024)];
    for (const [i, data] of parts.entries()) {
      const url = await store.presignUploadPart(key, uploadId, i + 1, { size: data.length, expiresAt: soon() });
      expect((await put(url, data)).status).toBe(200);
    }
    const list = parts.map((data, i) => ({ partNumber: i + 1, etag: md5(data) }));
    expect(await codeOf(store.completeMultipartUpload(key, uploadId, list))).toBe('PART_SIZE_MISMATCH');
    await store.abortMultipartUpload(key, uploadId);
  });

  it('answers a complete the store no longer knows with the object, when these parts made it', async () => {
    const key = newKey();
    const uploadId = await store.createMultipartUpload(key, { contentType: 'application/zip' });
    const data = randomBytes(2048);
    const url = await store.presignUploadPart(key, uploadId, 1, { size: data.length, expiresAt: soon() });
    expect((await put(url, data)).status).toBe(200);
    const list = [{ partNumber: 1, etag: md5(data) }];
    const info = await store.completeMultipartUpload(key, uploadId, list);
    expect(info).toEqual({ size: 2048, etag: multipartEtag([md5(data)]), contentType: 'application/zip' });
    // AWS forgets a completed upload (NoSuchUpload on a retried complete); Swift keeps it.
    // An aborted upload id for the same key makes any store answer NoSuchUpload.
    const gone = await store.createMultipartUpload(key, { contentType: 'application/zip' });
    await store.abortMultipartUpload(key, gone);
    expect(await store.completeMultipartUpload(key, gone, list)).toEqual(info);
    const other = [{ partNumber: 1, etag: md5(randomBytes(8)) }];
    expect(await codeOf(store.completeMultipartUpload(key, gone, other))).toBe('NO_SUCH_UPLOAD');
  });

  it('presigns a GET that downloads the object under its UTF-8 name', async () => {
    const key = newKey();
    const uploadId = await store.createMultipartUpload(key, { contentType: 'application/zip' });
    const data = randomBytes(4000);
    const url = await store.presignUploadPart(key, uploadId, 1, { size: data.length, expiresAt: soon() });
    expect((await put(url, data)).status).toBe(200);
    await store.completeMultipartUpload(key, uploadId, [{ partNumber: 1, etag: md5(data) }]);
    const res = await fetch(await store.presignGetObject(key, { expiresIn: 60, filename: '车灯 模型.zip' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain(
      "filename*=UTF-8''%E8%BD%A6%E7%81%AF%20%E6%A8%A1%E5%9E%8B.zip",
    );
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });

  it('lets a browser on another origin PUT a part and read its ETag (CORS)', async () => {
    const key = newKey();
    const uploadId = await store.createMultipartUpload(key, { contentType: 'application/octet-stream' });
    const data = randomBytes(100);
    const url = await store.presignUploadPart(key, uploadId, 1, { size: data.length, expiresAt: soon() });
    const origin = 'http://portal.example:8000';
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT');
    const res = await put(url, data, { Origin: origin, 'Content-Type': 'application/octet-stream' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toMatch(/^(\*|http:\/\/portal\.example:8000)$/);
    expect(res.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('etag');
    await store.abortMultipartUpload(key, uploadId);
  });

  it('names the variable to fix when the bucket, the credentials or the endpoint are wrong', async () => {
    const missing = new S3ObjectStore({ ...options!, bucket: `missing-${randomUUID().slice(0, 8)}` });
    await expect(missing.check()).rejects.toThrow(/^S3_BUCKET: bucket "missing-.*" does not exist/);
    const wrongKey = new S3ObjectStore({ ...options!, secretAccessKey: 'wrong' });
    await expect(wrongKey.check()).rejects.toThrow(/S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY/);
    const down = new S3ObjectStore({ ...options!, endpoint: `http://127.0.0.1:${await freePort()}` });
    await expect(down.check()).rejects.toThrow(/^S3_ENDPOINT: cannot reach/);
    expect(await codeOf(down.createMultipartUpload('k', { contentType: 'x' }))).toBe('STORAGE_UNAVAILABLE');
    for (const s of [missing, wrongKey, down]) s.destroy();
  });

  it('signs URLs for S3_PUBLIC_ENDPOINT when browsers reach the store under another name', async () => {
    const publicEndpoint = options!.endpoint!.replace('127.0.0.1', 'localhost');
    const split = new S3ObjectStore({ ...options!, publicEndpoint });
    const key = newKey();
    const uploadId = await split.createMultipartUpload(key, { contentType: 'application/octet-stream' });
    const data = randomBytes(10);
    const url = await split.presignUploadPart(key, uploadId, 1, { size: data.length, expiresAt: soon() });
    expect(url.startsWith(`${publicEndpoint}/`)).toBe(true);
    expect((await put(url, data)).status).toBe(200);
    expect(await split.listParts(key, uploadId)).toEqual([{ partNumber: 1, etag: md5(data), size: 10 }]);
    await split.abortMultipartUpload(key, uploadId);
    split.destroy();
  });

  it('refuses a content type that cannot travel as a header with VALIDATION_FAILED, not a 503', async () => {
    for (const contentType of ['application/zip; name=车灯', 'text/plain\r\nX-Evil: 1']) {
      expect(await codeOf(store.createMultipartUpload(newKey(), { contentType }))).toBe('VALIDATION_FAILED');
    }
  });

  it('does not warn about CORS where the store cannot report it (Swift sets CORS in its proxy)', async () => {
    expect(await store.corsProblem()).toBeNull();
  });
});
