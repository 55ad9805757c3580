/**
 * The one conformance suite every ObjectStore runs (as tus-node-server's stores share
 * `utils/src/test/stores.ts`): S3's multipart semantics, driven through real HTTP PUTs to
 * the presigned URLs. Add a store by implementing the interface and calling
 * `runObjectStoreContract` from a `*.contract.test.ts` beside it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ApiError, type ErrorCode } from '@speos-portal/protocol';
import { asBody } from '@speos-portal/test-support/api.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartEtag } from './fs-store.js';
import type { ObjectStore } from './object-store.js';

export interface StoreUnderTest {
  store: ObjectStore;
  /** Releases what the factory started (servers, temp dirs, clients). */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
/** S3's minimum size of every part but the last. */
const PART = 5 * MiB;

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const nowSeconds = () => Math.floor(Date.now() / 1000);

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(ApiError);
  expect((error as ApiError).code).toBe(code);
  return error as ApiError;
}

/** Alters the signature of a presigned URL (both stores name that parameter *signature*). */
function tamper(url: string): string {
  const parsed = new URL(url);
  for (const [name, value] of parsed.searchParams) {
    if (/signature/i.test(name)) {
      const last = value.at(-1) === 'a' ? 'b' : 'a';
      parsed.searchParams.set(name, `${value.slice(0, -1)}${last}`);
    }
  }
  return parsed.toString();
}

/**
 * Runs the suite against the store `makeStore` gives (called once; `close` after).
 * @example runObjectStoreContract('fs', async () => ({ store, close: () => portal.close() }))
 */
export function runObjectStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: ObjectStore;
    const created: string[] = [];

    beforeAll(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterAll(async () => {
      for (const key of created) await store?.deleteObject(key).catch(() => {});
      await subject?.close();
    });

    const newKey = () => {
      // Spaces, CJK and URL-special characters: presigned URLs must encode them right.
      const key = `contract/${randomUUID()}/模型 model #1 100% a+b&c=d?.speos.zip`;
      created.push(key);
      return key;
    };

    async function putPart(key: string, uploadId: string, partNumber: number, data: Buffer, url?: string) {
      const target =
        url ??
        (await store.presignUploadPart(key, uploadId, partNumber, {
          size: data.length,
          expiresAt: nowSeconds() + 600,
        }));
      const res = await fetch(target, {
        method: 'PUT',
        body: asBody(data),
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      await res.arrayBuffer();
      return res;
    }

    /** An upload with two parts stored: 5 MiB and a short last one. */
    async function uploadTwoParts() {
      const key = newKey();
      const uploadId = await store.createMultipartUpload(key, { contentType: 'application/zip' });
      const parts = [randomBytes(PART), randomBytes(MiB + 7)];
      for (const [i, data] of parts.entries()) {
        const res = await putPart(key, uploadId, i + 1, data);
        expect(res.status).toBe(200);
      }
      return { key, uploadId, parts, etags: parts.map(md5) };
    }

    it('creates an upload with no parts', async () => {
      const key = newKey();
      const uploadId = await store.createMultipartUpload(key, { contentType: 'application/octet-stream' });
      expect(typeof uploadId).toBe('string');
      expect(uploadId.length).toBeGreaterThan(0);
      expect(await store.listParts(key, uploadId)).toEqual([]);
      await store.abortMultipartUpload(key, uploadId);
    });

    it('takes a part by PUT to its presigned URL and answers 200 with the quoted MD5 as ETag', async () => {
      const key = newKey();
      const uploadId = await store.createMultipartUpload(key, { contentType: 'application/octet-stream' });
      const data = randomBytes(123_457);
      const url = await store.presignUploadPart(key, uploadId, 1, { size: data.length, expiresAt: nowSeconds() + 600 });
      expect(url).toMatch(/^https?:\/\//);
      const res = await putPart(key, uploadId, 1, data, url);
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe(`"${md5(data)}"`);
      expect(await store.listParts(key, uploadId)).toEqual([{ partNumber: 1, etag: md5(data), size: data.length }]);
      await store.abortMultipartUpload(key, uploadId);
    });

    it('replaces a part that is sent again', async () => {
      const key = newKey();
      const uploadId = await store.createMultipartUpload(key, { contentType: 'application/octet-stream' });
      const first = randomBytes(4096);
      const second = randomBytes(4096);
      expect((await putPart(key, uploadId, 1, first)).status).toBe(200);
      expect((await putPart(key, uploadId, 1, second)).status).toBe(200);
      expect(await store.listParts(key, uploadId)).toEqual([{ partNumber: 1, etag: md5(second), size: 4096 }]);
      await store.abortMultipartUpload(key, uploadId);
    });

    it('lists parts in ascending order whatever order they arrived in', async () => {
      const key = newKey();
      const uploadId = await store.createMultipartUpload(key, { contentType: 'application/octet-stream' });
      const sizes = new Map([
        [3, 300],
        [1, 100],
        [7, 700],
        [2, 200],
      ]);
      for (const [n, size] of sizes) expect((await putPart(key, uploadId, n, randomBytes(size))).status).toBe(200);
      const listed = await store.listParts(key, uploadId);
      expect(listed.map((p) => p.partNumber)).toEqual([1, 2, 3, 7]);
      expect(listed.map((p) => p.size)).toEqual([100, 200, 300, 700]);
      await store.abortMultipartUpload(key, uploadId);
    });

    it('completes into one object with the multipart ETag and size; a repeated complete returns the same', async () => {
      const { key, uploadId, parts, etags } = await uploadTwoParts();
      const list = etags.map((etag, i) => ({ partNumber: i + 1, etag }));
      const info = await store.completeMultipartUpload(key, uploadId, list);
      const size = parts[0]!.length + parts[1]!.length;
      expect(info.etag).toBe(multipartEtag(etags));
      expect(info.etag).toMatch(/^[0-9a-f]{32}-2$/);
      expect(info.size).toBe(size);
      expect(await store.completeMultipartUpload(key, uploadId, list)).toEqual(info);
      expect(await store.headObject(key)).toEqual(info);
    });

    it('reads the completed object back byte for byte, whole and by range across a part boundary', async () => {
      const { key, uploadId, parts, etags } = await uploadTwoParts();
      await store.completeMultipartUpload(
        key,
        uploadId,
        etags.map((etag, i) => ({ partNumber: i + 1, etag })),
      );
      const whole = Buffer.concat(parts);
      const read = await readAll(await store.getObject(key));
      expect(read.length).toBe(whole.length);
      expect(md5(read)).toBe(md5(whole));
      const range = { start: PART - 10, end: PART + 99 };
      const slice = await readAll(await store.getObject(key, range));
      expect(slice.equals(whole.subarray(range.start, range.end + 1))).toBe(true);
      const tail = await readAll(await store.getObject(key, { start: whole.length - 1, end: whole.length - 1 }));
      expect(tail.equals(whole.subarray(-1))).toBe(true);
    });

    it('refuses parts out of order (INVALID_PART_ORDER)', async () => {
      const { key, uploadId, etags } = await uploadTwoParts();
      await rejectsWith(
        store.completeMultipartUpload(key, uploadId, [
          { partNumber: 2, etag: etags[1]! },
          { partNumber: 1, etag: etags[0]! },
        ]),
        'INVALID_PART_ORDER',
      );
      expect((await store.listParts(key, uploadId)).length).toBe(2);
      await store.abortMultipartUpload(key, uploadId);
    });

    it('refuses a part that was never uploaded (MISSING_PARTS)', async () => {
      const { key, uploadId, etags } = await uploadTwoParts();
      await rejectsWith(
        store.completeMultipartUpload(key, uploadId, [
          { partNumber: 1, etag: etags[0]! },
          { partNumber: 2, etag: etags[1]! },
          { partNumber: 3, etag: etags[1]! },
        ]),
        'MISSING_PARTS',
      );
      await store.abortMultipartUpload(key, uploadId);
    });

    it('refuses a wrong ETag (ETAG_MISMATCH) and still completes with the right ones', async () => {
      const { key, uploadId, etags } = await uploadTwoParts();
      const error = await rejectsWith(
        store.completeMultipartUpload(key, uploadId, [
          { partNumber: 1, etag: etags[0]! },
          { partNumber: 2, etag: md5(Buffer.from('something else')) },
        ]),
        'ETAG_MISMATCH',
      );
      expect(error.message).toContain('2');
      const info = await store.completeMultipartUpload(
        key,
        uploadId,
        etags.map((etag, i) => ({ partNumber: i + 1, etag })),
      );
      expect(info.etag).toBe(multipartEtag(etags));
    });

    it('aborts idempotently; the upload is then gone (NO_SUCH_UPLOAD) and its URLs refuse parts', async () => {
      const { key, uploadId, etags } = await uploadTwoParts();
      await store.abortMultipartUpload(key, uploadId);
      await store.abortMultipartUpload(key, uploadId);
      await rejectsWith(store.listParts(key, uploadId), 'NO_SUCH_UPLOAD');
      await rejectsWith(
        store.completeMultipartUpload(
          key,
          uploadId,
          etags.map((etag, i) => ({ partNumber: i + 1, etag })),
        ),
        'NO_SUCH_UPLOAD',
      );
      const res = await putPart(key, uploadId, 1, randomBytes(100));
      expect(res.status).toBe(404);
      expect(await store.headObject(key)).toBeNull();
    });

    it('deletes an object; deleting it again is no error; reading it is NOT_FOUND', async () => {
      const { key, uploadId, etags } = await uploadTwoParts();
      await store.completeMultipartUpload(
        key,
        uploadId,
        etags.map((etag, i) => ({ partNumber: i + 1, etag })),
      );
      await store.deleteObject(key);
      await store.deleteObject(key);
      expect(await store.headObject(key)).toBeNull();
      await rejectsWith(store.getObject(key), 'NOT_FOUND');
    });

    it('stores a whole object from a stream (putObject), reads it back, replaces it, and stores an empty one', async () => {
      const key = newKey();
      const data = randomBytes(3 * MiB + 5);
      const info = await store.putObject(key, Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), {
        size: data.length,
        contentType: 'text/plain',
      });
      expect(info).toMatchObject({ size: data.length, contentType: 'text/plain' });
      expect(await store.headObject(key)).toMatchObject({ size: data.length, etag: info.etag });
      expect(md5(await readAll(await store.getObject(key)))).toBe(md5(data));
      const smaller = randomBytes(10);
      await store.putObject(key, Readable.from([smaller]), { size: 10, contentType: 'text/plain' });
      expect((await readAll(await store.getObject(key))).equals(smaller)).toBe(true);
      const empty = newKey();
      expect((await store.putObject(empty, Readable.from([]), { size: 0, contentType: 'text/plain' })).size).toBe(0);
      expect(await store.headObject(empty)).toMatchObject({ size: 0 });
      expect((await readAll(await store.getObject(empty))).length).toBe(0);
    });

    /** Yields `data` in uneven chunks (as a socket does), then fails if `failAfter` is set. */
    async function* chunked(data: Buffer, failAfter?: number): AsyncGenerator<Buffer> {
      let offset = 0;
      for (let i = 0; offset < data.length; i++) {
        if (failAfter !== undefined && offset >= failAfter) throw new Error('the client went away');
        const size = [65_536, 1, 300_001, 1_048_576][i % 4]!;
        yield data.subarray(offset, offset + size);
        offset += size;
      }
    }

    it('stores a whole object from a stream of unknown length (putObjectStream): one part, several, empty', async () => {
      for (const size of [100_000, 2 * PART + 1_234_567]) {
        const key = newKey();
        const data = randomBytes(size);
        const info = await store.putObjectStream(key, chunked(data), {
          contentType: 'application/zip',
          maxSize: 3 * PART,
        });
        expect(info).toMatchObject({ size, contentType: 'application/zip' });
        expect(await store.headObject(key)).toMatchObject({ size, etag: info.etag });
        expect(md5(await readAll(await store.getObject(key)))).toBe(md5(data));
      }
      const empty = newKey();
      expect(
        await store.putObjectStream(empty, chunked(Buffer.alloc(0)), { contentType: 'text/plain', maxSize: 10 }),
      ).toMatchObject({ size: 0 });
      expect(await store.headObject(empty)).toMatchObject({ size: 0 });
    });

    it('takes a stream of exactly maxSize bytes, refuses one byte more (FILE_TOO_LARGE) and keeps nothing of it', async () => {
      const maxSize = PART + 10;
      const exact = newKey();
      const data = randomBytes(maxSize + 1);
      const info = await store.putObjectStream(exact, chunked(data.subarray(0, maxSize)), {
        contentType: 'application/octet-stream',
        maxSize,
      });
      expect(info.size).toBe(maxSize);
      const over = newKey();
      const error = await rejectsWith(
        store.putObjectStream(over, chunked(data), { contentType: 'application/octet-stream', maxSize }),
        'FILE_TOO_LARGE',
      );
      expect(error.message).toContain(String(maxSize));
      expect(await store.headObject(over)).toBeNull();
    });

    it('keeps nothing of a stream that fails half-way', async () => {
      const key = newKey();
      const failing = store.putObjectStream(key, chunked(randomBytes(3 * PART), 2 * PART), {
        contentType: 'application/octet-stream',
        maxSize: 4 * PART,
      });
      await expect(failing).rejects.toThrow('the client went away');
      expect(await store.headObject(key)).toBeNull();
    });

    it('refuses a tampered presigned URL and an expired one with 403', async () => {
      const key = newKey();
      const uploadId = await store.createMultipartUpload(key, { contentType: 'application/octet-stream' });
      const data = randomBytes(1000);
      const good = await store.presignUploadPart(key, uploadId, 1, {
        size: data.length,
        expiresAt: nowSeconds() + 600,
      });
      expect((await putPart(key, uploadId, 1, data, tamper(good))).status).toBe(403);
      const expired = await store.presignUploadPart(key, uploadId, 1, {
        size: data.length,
        expiresAt: nowSeconds() - 5,
      });
      expect((await putPart(key, uploadId, 1, data, expired)).status).toBe(403);
      expect(await store.listParts(key, uploadId)).toEqual([]);
      expect((await putPart(key, uploadId, 1, data, good)).status).toBe(200);
      await store.abortMultipartUpload(key, uploadId);
    });

    it('passes its readiness check', async () => {
      await expect(store.check()).resolves.toBeUndefined();
    });
  });
}
