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
import { contentTypeFor, crc32Stream, outputKey } from '../tasks/output-files.js';

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
): Promise<StoredOutput> {
  const full = path.join(dir, ...relative.split('/'));
  const { size } = await stat(full);
  const key = outputKey(taskId, relative);
  // A fresh stream (and checksum) per try: a retry after an outage starts from the first byte.
  const checksum = crc32Stream();
  await store.putObject(key, createReadStream(full).pipe(checksum), { size, contentType: contentTypeFor(relative) });
  return { key, size, crc32: checksum.crc32 };
}

/** A result file as stored: its key, size and CRC-32 (outputs.zip needs it up front). */
export interface StoredOutput {
  key: string;
  size: number;
  crc32: number;
}

/**
 * Lists a stored result file under the task. Repeatable: a retry after a lost answer (the
 * connection dropped after the commit) finds the row there and leaves it.
 */
export async function recordOutput(db: Db, taskId: string, relative: string, stored: StoredOutput): Promise<void> {
  const values = { size: stored.size, object_key: stored.key, crc32: stored.crc32 };
  await db
    .insertInto('task_outputs')
    .values({ task_id: taskId, path: relative, ...values })
    .onConflict((conflict) => conflict.columns(['task_id', 'path']).doUpdateSet(values))
    .execute();
}
