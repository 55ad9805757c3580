/**
 * A run's results are the files it created or changed in its working directory
 * (reports .html, .xmp, .speos360, …): found by comparing with a snapshot taken before
 * the solver started, then stored under `speos_tasks/<task_id>/outputs/<path>`.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { crc32 } from 'node:zlib';
import type { Db } from '../db/connect.js';
import type { ObjectStore } from '../storage/object-store.js';

export type Snapshot = Map<string, string>;

/** Relative path (with /) → "size:mtime" of every file under `dir`. */
export async function snapshot(dir: string): Promise<Snapshot> {
  const files: Snapshot = new Map();
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const info = await stat(full);
    files.set(path.relative(dir, full).split(path.sep).join('/'), `${info.size}:${info.mtimeMs}`);
  }
  return files;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.zip': 'application/zip',
};

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export function outputKey(taskId: string, relative: string): string {
  return `speos_tasks/${taskId}/outputs/${relative}`;
}

/** Stores every file that is new or changed since `before`; returns how many. */
export async function collectOutputs(
  db: Db,
  store: ObjectStore,
  taskId: string,
  dir: string,
  before: Snapshot,
): Promise<number> {
  const after = await snapshot(dir);
  const changed = [...after].filter(([file, signature]) => before.get(file) !== signature).map(([file]) => file);
  await db.deleteFrom('task_outputs').where('task_id', '=', taskId).execute();
  for (const relative of changed.sort()) {
    const full = path.join(dir, ...relative.split('/'));
    const { size } = await stat(full);
    const key = outputKey(taskId, relative);
    const checksum = crc32Stream();
    await store.putObject(key, createReadStream(full).pipe(checksum), { size, contentType: contentTypeFor(relative) });
    await db
      .insertInto('task_outputs')
      .values({ task_id: taskId, path: relative, size, object_key: key, crc32: checksum.crc32 })
      .execute();
  }
  return changed.length;
}

/** A pass-through that keeps the CRC-32 of what went through it (outputs.zip needs it up front). */
export function crc32Stream(): Transform & { crc32: number } {
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      stream.crc32 = crc32(chunk, stream.crc32);
      done(null, chunk);
    },
  }) as Transform & { crc32: number };
  stream.crc32 = 0;
  return stream;
}
