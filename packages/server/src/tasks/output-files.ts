/**
 * Names, keys and types of a task's result files, shared by the worker that stores them
 * (worker/outputs.ts) and the routes that serve them (tasks/control.ts, control-routes.ts).
 */
import path from 'node:path';
import { Transform } from 'node:stream';
import { crc32 } from 'node:zlib';
import type { TaskRow } from '../db/schema.js';

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

/** `<job name>-outputs.zip`, safe as a file name. */
export function zipName(task: Pick<TaskRow, 'job_name' | 'task_id'>): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we remove
  const base = (task.job_name ?? task.task_id).replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_').trim() || task.task_id;
  return `${base}-outputs.zip`;
}
