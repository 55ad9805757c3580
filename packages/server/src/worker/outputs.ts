/**
 * A run's results are the files it created or changed in its working directory
 * (reports .html, .xmp, .speos360, …): found by comparing with a snapshot taken before
 * the solver started, then stored under `speos_tasks/<task_id>/outputs/<path>`.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
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

/** Files (relative, with /) that are new or changed since `before`, sorted. */
export async function changedFiles(dir: string, before: Snapshot): Promise<string[]> {
  const after = await snapshot(dir);
  return [...after]
    .filter(([file, signature]) => before.get(file) !== signature)
    .map(([file]) => file)
    .sort();
}

/** Forgets the outputs of an earlier run of the task (their objects are overwritten by key). */
export async function clearOutputs(db: Db, taskId: string): Promise<void> {
  await db.deleteFrom('task_outputs').where('task_id', '=', taskId).execute();
}

/** Puts one result file into the store; a fresh read of the file each call, so a failed try can be repeated. */
export async function putOutput(
  store: ObjectStore,
  taskId: string,
  dir: string,
  relative: string,
): Promise<{ key: string; size: number }> {
  const full = path.join(dir, ...relative.split('/'));
  const { size } = await stat(full);
  const key = outputKey(taskId, relative);
  await store.putObject(key, createReadStream(full), { size, contentType: contentTypeFor(relative) });
  return { key, size };
}

/**
 * Lists a stored result file under the task. Repeatable: a retry after a lost answer (the
 * connection dropped after the commit) finds the row there and leaves it.
 */
export async function recordOutput(
  db: Db,
  taskId: string,
  relative: string,
  stored: { key: string; size: number },
): Promise<void> {
  await db
    .insertInto('task_outputs')
    .values({ task_id: taskId, path: relative, size: stored.size, object_key: stored.key })
    .onConflict((conflict) =>
      conflict.columns(['task_id', 'path']).doUpdateSet({ size: stored.size, object_key: stored.key }),
    )
    .execute();
}
