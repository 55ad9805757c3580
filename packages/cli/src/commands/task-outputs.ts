/**
 * `speos-portal tasks outputs TASK_ID [--download DIR] [--zip FILE]`: lists a run's result
 * files; saves each one under DIR (subfolders created, UTF-8 names kept) or all as one zip.
 * Downloads stream to a temporary file beside the target and are renamed into place once
 * complete, so an interrupted run never leaves a truncated file under a real name.
 */
import { constants, rmSync } from 'node:fs';
import { mkdir, open, realpath, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { NetworkError, type PortalClient, withRetry } from '@speos-portal/client';
import type { OutputFile } from '@speos-portal/protocol';
import { CliError } from '../cli-error.js';
import { explain } from '../connection.js';
import { formatBytes } from '../format.js';
import type { TaskContext } from './task-context.js';

export async function outputsCommand({ api, values, read }: TaskContext, id: string): Promise<void> {
  for (const flag of ['download', 'zip'] as const) {
    if (values[flag] !== undefined && values[flag].trim() === '') throw new CliError(`--${flag} needs a path`, 2);
  }
  const outputs = await read((signal) => api.getOutputs(id, signal));
  const root = values.download !== undefined ? path.resolve(values.download) : undefined;
  // Every name is checked before a byte is written: a bad one stops the whole download.
  const planned = root ? outputs.files.map((file) => ({ file, target: targetPath(root, file.name) })) : [];
  const zipUrl = outputs.download_url;
  if (values.zip !== undefined && !zipUrl) throw new CliError(`task ${id} has no output files to zip`);

  if (!values.json) printFiles(outputs.files);

  const partial = new Set<string>();
  const onInterrupt = () => {
    for (const file of partial) rmSyncQuiet(file);
    process.stderr.write('\nspeos-portal tasks: interrupted; unfinished downloads removed\n');
    process.exit(130);
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  const saved: string[] = [];
  let zipPath: string | undefined;
  try {
    if (root) {
      await mkdir(root, { recursive: true });
      const realRoot = await realpath(root);
      let bytes = 0;
      for (const { file, target } of planned) {
        bytes += await save(api, file.url, target, partial, { realRoot, name: file.name, size: file.size });
        saved.push(target);
      }
      if (!values.json) {
        console.log(`saved ${plural(saved.length, 'file')} (${formatBytes(bytes)}) to ${root}`);
      }
    }
    if (values.zip !== undefined && zipUrl) {
      zipPath = path.resolve(values.zip);
      await mkdir(path.dirname(zipPath), { recursive: true });
      const bytes = await save(api, zipUrl, zipPath, partial);
      if (!values.json) console.log(`saved ${zipPath} (${formatBytes(bytes)})`);
    }
  } catch (error) {
    throw explain(api, error);
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
  if (values.json) {
    console.log(JSON.stringify({ ...outputs, ...(root ? { saved } : {}), ...(zipPath ? { zip: zipPath } : {}) }));
  }
}

function printFiles(files: OutputFile[]): void {
  if (files.length === 0) {
    console.log('no output files');
    return;
  }
  const sizes = files.map((f) => formatBytes(f.size));
  const nameWidth = Math.max(4, ...files.map((f) => [...f.name].length));
  const sizeWidth = Math.max(4, ...sizes.map((s) => s.length));
  console.log(`${'NAME'.padEnd(nameWidth)}  ${'SIZE'.padStart(sizeWidth)}`);
  files.forEach((f, i) => {
    console.log(`${f.name.padEnd(nameWidth + f.name.length - [...f.name].length)}  ${sizes[i]!.padStart(sizeWidth)}`);
  });
  const total = files.reduce((sum, f) => sum + f.size, 0);
  console.log(`${plural(files.length, 'file')}, ${formatBytes(total)}`);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Where output `name` (a relative path with `/`, as the server lists it) goes under `root`;
 * refuses anything that would land elsewhere: absolute paths, `..`, empty or `.` segments.
 */
export function targetPath(root: string, name: string): string {
  const segments = name.split('/');
  const suspicious =
    name.includes('\0') ||
    segments.some((s) => s === '' || s === '.' || s === '..') ||
    (path.sep === '\\' && /[\\:]/.test(name));
  const target = path.resolve(root, ...segments);
  const relative = path.relative(root, target);
  if (suspicious || relative === '' || path.isAbsolute(relative) || relative.split(path.sep)[0] === '..') {
    throw new CliError(`refusing to save output "${name}": it would not land inside ${root}`);
  }
  return target;
}

/** Streams one download to `target` through a temporary file; returns its size in bytes. */
async function save(
  api: PortalClient,
  url: string,
  target: string,
  partial: Set<string>,
  check?: { realRoot: string; name: string; size: number },
): Promise<number> {
  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  if (check) {
    // A symbolic link already inside DIR must not carry a file out of it.
    const real = await realpath(parent);
    if (real !== check.realRoot && !real.startsWith(`${check.realRoot}${path.sep}`)) {
      throw new CliError(`refusing to save output "${check.name}": ${parent} leads outside ${check.realRoot}`);
    }
  }
  const temporary = path.join(parent, `.${path.basename(target)}.${process.pid}.part`);
  partial.add(temporary);
  try {
    const bytes = await withRetry(
      async (signal) => {
        const response = await api.download(url, signal);
        if (!response.body) throw new NetworkError(`GET ${url}: the answer has no body`);
        let count = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            count += chunk.length;
            callback(null, chunk);
          },
        });
        // O_NOFOLLOW: never write through a link someone left at the temporary name.
        const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0);
        const handle = await open(temporary, flags, 0o666);
        try {
          await pipeline(
            Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>),
            counter,
            handle.createWriteStream(),
          );
        } catch (error) {
          // A file-system error is ours to report; a stream cut off mid-way is worth another try.
          if ((error as NodeJS.ErrnoException).syscall) throw error;
          throw new NetworkError(`download of ${url} broke off: ${(error as Error).message}`, { cause: error });
        }
        if (check && count !== check.size) {
          throw new CliError(`output "${check.name}": received ${count} bytes, the server listed ${check.size}`);
        }
        return count;
      },
      { policy: { maxAttempts: 3, baseDelayMs: 500, maxWaitMs: 0 } },
    );
    await rename(temporary, target);
    return bytes;
  } finally {
    partial.delete(temporary);
    await rm(temporary, { force: true });
  }
}

/** Synchronous on purpose: the process exits right after. */
function rmSyncQuiet(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // A partial download that cannot be removed is reported by the error that ended the download.
  }
}
