/**
 * The embedded object store: S3 multipart semantics on the local filesystem.
 *
 * Layout under `root`:
 *   multipart/<uploadId>/upload.json               the upload (key, content type)
 *   multipart/<uploadId>/data/<n>.<md5>.<size>.<r> one file per received attempt of part n
 *   multipart/<uploadId>/<n>                       symlink → the current attempt of part n
 *   objects/<sha256(key)>.json                     manifest of a completed object; it also
 *                                                  records the completion, for repeats
 *
 * Why symlinks: replacing a part is one rename(2) of a link, so two concurrent PUTs of
 * one part leave exactly one attempt's bytes visible, never a mix; the link's target
 * names the part's MD5 and size, so listing parts reads neither data nor inodes.
 * Why manifests: complete writes one small JSON file instead of concatenating 500 MB;
 * reads stream the part files in order. User file names never reach the filesystem.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ApiError, MAX_PARTS } from '@speos-portal/protocol';
import { KeyedMutex } from './keyed-mutex.js';
import { Md5Pool } from './md5-pool.js';
import type { ObjectInfo, ObjectStore, StoredPart } from './object-store.js';
import type { UrlSigner } from './url-signer.js';

const UPLOAD_ID = /^[0-9a-f]{32}$/;
const DATA_FILE = /^(\d+)\.([0-9a-f]{32})\.(\d+)\.[0-9a-f]+$/;

interface UploadMeta {
  key: string;
  contentType: string;
  createdAt: number;
}

interface Manifest extends ObjectInfo {
  key: string;
  uploadId: string;
  /** Paths relative to the store root, in part order. */
  parts: { file: string; size: number }[];
  /** What complete was called with, so a repeated call can be recognised. */
  partList: { partNumber: number; etag: string }[];
}

function noSuchUpload(uploadId: string): ApiError {
  return new ApiError(
    'NO_SUCH_UPLOAD',
    `Upload ${uploadId} does not exist, was aborted or has expired. Start a new upload with /tasks/upload/multipart/init.`,
  );
}

/** How many bytes a received body must have: exactly `size` (a part), or at most that (a whole file). */
interface BodyLimit {
  size: number;
  exact: boolean;
}

export function fileTooLarge(maxSize: number): ApiError {
  return new ApiError(
    'FILE_TOO_LARGE',
    `The file is larger than this server's limit of ${maxSize} bytes (${(maxSize / 1048576).toFixed(0)} MiB). Ask the operator to raise MAX_FILE_SIZE.`,
  );
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** fsync a directory so a rename or new entry in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a small file durably and atomically (temp file, fsync, rename, fsync dir). */
async function writeFileDurably(file: string, content: string): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await syncDir(path.dirname(file));
}

/** S3's multipart ETag: MD5 over the concatenated binary MD5s of the parts, then `-N`. */
export function multipartEtag(partEtags: string[]): string {
  const hash = createHash('md5');
  for (const etag of partEtags) hash.update(Buffer.from(etag, 'hex'));
  return `${hash.digest('hex')}-${partEtags.length}`;
}

export interface FsObjectStoreOptions {
  /** Directory the store owns. */
  root: string;
  signer: UrlSigner;
  /** Base URL of this server, e.g. http://localhost:8000 — upload URLs start with it. */
  publicUrl: string;
  /** Where part MD5s are computed; default: two worker threads. */
  hasher?: Md5Pool;
}

export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  readonly #root: string;
  readonly #signer: UrlSigner;
  readonly #publicUrl: string;
  /** Guards each upload's commit steps (part link swap, complete, abort) against each other. */
  readonly #locks = new KeyedMutex();
  readonly #hasher: Md5Pool;

  constructor(options: FsObjectStoreOptions) {
    this.#root = options.root;
    this.#signer = options.signer;
    this.#publicUrl = options.publicUrl.replace(/\/+$/, '');
    this.#hasher = options.hasher ?? new Md5Pool();
  }

  get signer(): UrlSigner {
    return this.#signer;
  }

  async init(): Promise<void> {
    await mkdir(path.join(this.#root, 'multipart'), { recursive: true });
    await mkdir(path.join(this.#root, 'objects'), { recursive: true });
    await mkdir(path.join(this.#root, 'trash'), { recursive: true });
    // Leftovers of an abort interrupted by a crash.
    await rm(path.join(this.#root, 'trash'), { recursive: true, force: true });
    await mkdir(path.join(this.#root, 'trash'), { recursive: true });
  }

  #uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload(uploadId);
    return path.join(this.#root, 'multipart', uploadId);
  }

  #manifestFile(key: string): string {
    return path.join(this.#root, 'objects', `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  async #readUpload(uploadId: string): Promise<UploadMeta> {
    try {
      return JSON.parse(await readFile(path.join(this.#uploadDir(uploadId), 'upload.json'), 'utf8')) as UploadMeta;
    } catch (error) {
      if (isMissing(error)) throw noSuchUpload(uploadId);
      throw error;
    }
  }

  /** The manifest that completed this upload, or null while it is open. */
  async #readCompletion(uploadId: string, key: string): Promise<Manifest | null> {
    const manifest = await this.#readManifest(key);
    return manifest?.uploadId === uploadId ? manifest : null;
  }

  /** The upload, if it is still accepting parts (exists, for this key, not completed). */
  async #openUpload(key: string, uploadId: string): Promise<UploadMeta> {
    const meta = await this.#readUpload(uploadId);
    if (meta.key !== key) throw noSuchUpload(uploadId);
    if (await this.#readCompletion(uploadId, key)) throw noSuchUpload(uploadId);
    return meta;
  }

  async createMultipartUpload(key: string, options: { contentType: string }): Promise<string> {
    const uploadId = randomBytes(16).toString('hex');
    const dir = this.#uploadDir(uploadId);
    await mkdir(path.join(dir, 'data'), { recursive: true });
    const meta: UploadMeta = { key, contentType: options.contentType, createdAt: Date.now() };
    await writeFileDurably(path.join(dir, 'upload.json'), JSON.stringify(meta));
    await syncDir(path.join(this.#root, 'multipart'));
    return uploadId;
  }

  async presignUploadPart(
    _key: string,
    uploadId: string,
    partNumber: number,
    options: { size: number; expiresAt: number },
  ): Promise<string> {
    const query = this.#signer.query({ uploadId, partNumber, size: options.size, expiresAt: options.expiresAt });
    return `${this.#publicUrl}/storage/uploads/${uploadId}/parts/${partNumber}?${query}`;
  }

  /**
   * Receives one part: streams `body` to a new file while hashing it, insists on exactly
   * `size` bytes, fsyncs, then swaps the part's link to it. Resolves with the MD5 only
   * once the bytes and the link are on stable storage.
   */
  async receivePart(uploadId: string, partNumber: number, size: number, body: AsyncIterable<Buffer>): Promise<string> {
    return (await this.#receive(uploadId, partNumber, { size, exact: true }, body)).etag;
  }

  /** receivePart for exactly `limit.size` bytes, or (not exact) for at most that many. */
  async #receive(
    uploadId: string,
    partNumber: number,
    limit: BodyLimit,
    body: AsyncIterable<Buffer>,
  ): Promise<{ etag: string; size: number }> {
    const dir = this.#uploadDir(uploadId);
    const { key } = await this.#readUpload(uploadId);
    if (await this.#readCompletion(uploadId, key)) throw noSuchUpload(uploadId);
    const attempt = randomBytes(6).toString('hex');
    const tmp = path.join(dir, 'data', `${partNumber}.${attempt}.tmp`);
    let handle: FileHandle;
    try {
      handle = await open(tmp, 'wx', 0o600);
    } catch (error) {
      if (isMissing(error)) throw noSuchUpload(uploadId); // aborted meanwhile
      throw error;
    }
    let written: { etag: string; size: number };
    try {
      written = await this.#writeBody(handle, body, limit, partNumber);
    } catch (error) {
      // Clean-up after a failed write: the write's error is the one to report; a stray temp file is ignored by listParts.
      await handle.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw error;
    }
    await handle.close();
    const { etag, size } = written;
    const dataName = `${partNumber}.${etag}.${size}.${attempt}`;
    return this.#locks.run(uploadId, async () => {
      try {
        if (await this.#readCompletion(uploadId, key)) throw noSuchUpload(uploadId);
        await rename(tmp, path.join(dir, 'data', dataName));
        const link = path.join(dir, String(partNumber));
        const previous = await readlink(link).catch(() => null);
        const tmpLink = path.join(dir, `.${partNumber}.${attempt}.link`);
        await symlink(path.join('data', dataName), tmpLink);
        await rename(tmpLink, link);
        await syncDir(path.join(dir, 'data'));
        await syncDir(dir);
        // The link already points at the new attempt; an old attempt left over is removed with the upload.
        if (previous) await unlink(path.join(dir, previous)).catch(() => {});
        return written;
      } catch (error) {
        // As above: a temp file that survives is never listed and goes with the upload's directory.
        await unlink(tmp).catch(() => {});
        if (isMissing(error)) throw noSuchUpload(uploadId);
        throw error;
      }
    });
  }

  async #writeBody(
    handle: FileHandle,
    body: AsyncIterable<Buffer>,
    limit: BodyLimit,
    partNumber: number,
  ): Promise<{ etag: string; size: number }> {
    const { size } = limit;
    const hash = this.#hasher.session();
    let received = 0;
    // Socket chunks are gathered into one batch: one write, then the batch goes to the
    // hasher (which hands the buffer back for reuse).
    let batch = this.#hasher.buffer();
    let filled = 0;
    const flush = async () => {
      // A write may store fewer bytes than asked (a disk about to fill does that before it
      // refuses with ENOSPC): write the rest, so a part is never kept shorter than hashed.
      for (let done = 0; done < filled; ) {
        done += (await handle.write(batch, done, filled - done)).bytesWritten;
      }
      await hash.push(batch, filled);
      batch = this.#hasher.buffer();
      filled = 0;
    };
    try {
      for await (const chunk of body) {
        if (received + chunk.length > size) {
          if (!limit.exact) throw fileTooLarge(size);
          throw new ApiError(
            'PART_SIZE_MISMATCH',
            `Part ${partNumber} must be exactly ${size} bytes; more were sent. Send file.slice(start_byte, end_byte).`,
          );
        }
        let offset = 0;
        while (offset < chunk.length) {
          const n = chunk.copy(batch, filled, offset);
          filled += n;
          offset += n;
          received += n;
          if (filled === batch.length) await flush();
        }
      }
      if (filled > 0) await flush();
    } catch (error) {
      hash.drop();
      throw error;
    }
    if (limit.exact && received !== size) {
      hash.drop();
      throw new ApiError(
        'PART_SIZE_MISMATCH',
        `Part ${partNumber} must be exactly ${size} bytes; ${received} were received. Send file.slice(start_byte, end_byte).`,
      );
    }
    const [etag] = await Promise.all([hash.digest(), handle.sync()]);
    return { etag, size: received };
  }

  async #currentParts(uploadId: string): Promise<(StoredPart & { file: string })[]> {
    const dir = this.#uploadDir(uploadId);
    const numbers = (await readdir(dir)).filter(
      (name) => /^\d+$/.test(name) && Number(name) >= 1 && Number(name) <= MAX_PARTS,
    );
    const parts = await Promise.all(
      numbers.map(async (name) => {
        const target = await readlink(path.join(dir, name)).catch(() => null);
        const match = target ? DATA_FILE.exec(path.basename(target)) : null;
        if (!target || !match) return null;
        return { partNumber: Number(name), etag: match[2]!, size: Number(match[3]), file: path.join(dir, target) };
      }),
    );
    return parts.filter((p) => p !== null).sort((a, b) => a.partNumber - b.partNumber);
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    await this.#openUpload(key, uploadId);
    return (await this.#currentParts(uploadId)).map(({ partNumber, etag, size }) => ({ partNumber, etag, size }));
  }

  async completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<ObjectInfo> {
    return this.#locks.run(uploadId, async () => {
      const meta = await this.#readUpload(uploadId);
      if (meta.key !== key) throw noSuchUpload(uploadId);
      const done = await this.#readCompletion(uploadId, key);
      if (done) {
        if (JSON.stringify(done.partList) === JSON.stringify(parts)) {
          return { size: done.size, etag: done.etag, contentType: done.contentType };
        }
        throw noSuchUpload(uploadId);
      }
      for (let i = 1; i < parts.length; i++) {
        if (parts[i]!.partNumber <= parts[i - 1]!.partNumber) {
          throw new ApiError('INVALID_PART_ORDER', 'Parts must be listed in strictly ascending part_number order.');
        }
      }
      const stored = new Map((await this.#currentParts(uploadId)).map((p) => [p.partNumber, p]));
      const chosen = parts.map(({ partNumber, etag }) => {
        const part = stored.get(partNumber);
        if (!part) throw new ApiError('MISSING_PARTS', `Part ${partNumber} was never uploaded.`);
        if (part.etag !== etag) {
          throw new ApiError('ETAG_MISMATCH', `Part ${partNumber}: the stored ETag is ${part.etag}, not ${etag}.`);
        }
        return part;
      });
      const info: ObjectInfo = {
        size: chosen.reduce((sum, p) => sum + p.size, 0),
        etag: multipartEtag(chosen.map((p) => p.etag)),
        contentType: meta.contentType,
      };
      const manifest: Manifest = {
        key,
        uploadId,
        ...info,
        parts: chosen.map((p) => ({ file: path.relative(this.#root, p.file), size: p.size })),
        partList: parts,
      };
      const previous = await this.#readManifest(key);
      // One durable write completes the upload: from now on its parts are refused.
      await writeFileDurably(this.#manifestFile(key), JSON.stringify(manifest));
      // Clean-up is not on the request path: attempts that lost a race or were not
      // chosen, and the object this one replaced, are garbage now.
      const keep = new Set(chosen.map((p) => path.basename(p.file)));
      // Garbage collection is best effort: leftovers are unreachable and removed with the upload's directory on abort or delete.
      setImmediate(() => void this.#collectGarbage(uploadId, keep, previous?.uploadId).catch(() => {}));
      return info;
    });
  }

  async #collectGarbage(uploadId: string, keep: Set<string>, replaced: string | undefined): Promise<void> {
    const dataDir = path.join(this.#uploadDir(uploadId), 'data');
    for (const name of await readdir(dataDir).catch(() => [] as string[])) {
      // Best effort, as above: a leftover attempt is never read again.
      if (!keep.has(name)) await unlink(path.join(dataDir, name)).catch(() => {});
    }
    if (replaced && replaced !== uploadId) await this.#locks.run(replaced, () => this.#removeUploadDir(replaced));
  }

  async #removeUploadDir(uploadId: string): Promise<void> {
    const dir = this.#uploadDir(uploadId);
    const trash = path.join(this.#root, 'trash', `${uploadId}.${randomBytes(4).toString('hex')}`);
    try {
      await rename(dir, trash); // one atomic step: the upload is gone for every reader
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    await rm(trash, { recursive: true, force: true });
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    if (!UPLOAD_ID.test(uploadId)) return;
    await this.#locks.run(uploadId, async () => {
      const meta = await this.#readUpload(uploadId).catch(() => null);
      if (!meta || meta.key !== key) return;
      const manifest = await this.#readManifest(key);
      // Already gone is the goal; removing the upload's directory next is what frees the space.
      if (manifest?.uploadId === uploadId) await unlink(this.#manifestFile(key)).catch(() => {});
      await this.#removeUploadDir(uploadId);
    });
  }

  async #readManifest(key: string): Promise<Manifest | null> {
    try {
      return JSON.parse(await readFile(this.#manifestFile(key), 'utf8')) as Manifest;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async headObject(key: string): Promise<ObjectInfo | null> {
    const manifest = await this.#readManifest(key);
    return manifest ? { size: manifest.size, etag: manifest.etag, contentType: manifest.contentType } : null;
  }

  async getObject(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const manifest = await this.#readManifest(key);
    if (!manifest) throw new ApiError('NOT_FOUND', `No stored object for ${key}.`);
    const start = range?.start ?? 0;
    const end = range?.end ?? manifest.size - 1;
    const root = this.#root;
    async function* concatenate(): AsyncGenerator<Buffer> {
      let offset = 0;
      for (const part of manifest!.parts) {
        const partStart = offset;
        const partEnd = offset + part.size - 1;
        offset += part.size;
        if (partEnd < start || partStart > end) continue;
        const stream = createReadStream(path.join(root, part.file), {
          start: Math.max(start - partStart, 0),
          end: Math.min(end, partEnd) - partStart,
          highWaterMark: 1024 * 1024,
        });
        for await (const chunk of stream) yield chunk as Buffer;
      }
    }
    return Readable.from(concatenate(), { objectMode: false });
  }

  /**
   * A whole object from a stream: stored as a one-part upload, completed at once, so
   * reads and deletes go through the same manifest path as uploaded files.
   */
  async putObject(key: string, body: Readable, options: { size: number; contentType: string }): Promise<ObjectInfo> {
    const uploadId = await this.createMultipartUpload(key, { contentType: options.contentType });
    try {
      if (options.size === 0) return await this.#completeEmpty(key, uploadId, options.contentType);
      const etag = await this.receivePart(uploadId, 1, options.size, body);
      return await this.completeMultipartUpload(key, uploadId, [{ partNumber: 1, etag }]);
    } catch (error) {
      // The put failed already; that error is the one to report. What the abort leaves is unreachable.
      await this.abortMultipartUpload(key, uploadId).catch(() => {});
      throw error;
    }
  }

  /** As putObject, for a stream of unknown length: one part of at most `maxSize` bytes. */
  async putObjectStream(
    key: string,
    body: AsyncIterable<Buffer>,
    options: { contentType: string; maxSize: number },
  ): Promise<ObjectInfo> {
    const uploadId = await this.createMultipartUpload(key, { contentType: options.contentType });
    try {
      const { etag, size } = await this.#receive(uploadId, 1, { size: options.maxSize, exact: false }, body);
      if (size === 0) return await this.#completeEmpty(key, uploadId, options.contentType);
      return await this.completeMultipartUpload(key, uploadId, [{ partNumber: 1, etag }]);
    } catch (error) {
      // As above: report the put's error; leftovers are unreachable.
      await this.abortMultipartUpload(key, uploadId).catch(() => {});
      throw error;
    }
  }

  /** A part must have bytes; an empty object is a manifest without parts. */
  async #completeEmpty(key: string, uploadId: string, contentType: string): Promise<ObjectInfo> {
    const info: ObjectInfo = { size: 0, etag: 'd41d8cd98f00b204e9800998ecf8427e', contentType };
    const manifest: Manifest = { key, uploadId, ...info, parts: [], partList: [] };
    await writeFileDurably(this.#manifestFile(key), JSON.stringify(manifest));
    return info;
  }

  async deleteObject(key: string): Promise<void> {
    const manifest = await this.#readManifest(key);
    if (!manifest) return;
    await this.#locks.run(manifest.uploadId, async () => {
      // A missing manifest is the deleted state already; the directory removal below frees the bytes.
      await unlink(this.#manifestFile(key)).catch(() => {});
      await this.#removeUploadDir(manifest.uploadId);
    });
  }

  /** Stops the hash threads; called once the server has finished its requests. */
  async close(): Promise<void> {
    await this.#hasher.close();
  }

  async check(): Promise<void> {
    const probe = path.join(this.#root, 'trash', `.ready-${randomBytes(4).toString('hex')}`);
    await writeFile(probe, 'ok');
    await unlink(probe);
  }
}
