/**
 * Lays out a task's inputs in its working directory: the master (a zipped master is
 * extracted and its single .speos/.sv5 found) and the include archive, extracted beside
 * it so the master's relative references resolve. Archive entries can never land outside
 * the directory (absolute paths and `..` are refused).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Unzip, UnzipInflate } from 'fflate';
import { extract as extractTar } from 'tar';
import type { UploadRow } from '../db/schema.js';
import type { ObjectStore } from '../storage/object-store.js';

/** A run that cannot start or finish for a reason the user should read. */
export class TaskFailure extends Error {
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'TaskFailure';
  }
}

const MODEL_EXTENSIONS = ['.speos', '.sv5'];

/** A path inside `root` for an archive entry, or a TaskFailure for one that escapes it. */
export function safeEntryPath(root: string, entry: string, archive: string): string {
  const normalised = entry.replace(/\\/g, '/');
  if (normalised.startsWith('/') || /^[A-Za-z]:/.test(normalised) || normalised.split('/').includes('..')) {
    throw new TaskFailure(
      `${archive} contains an unsafe path "${entry}"`,
      'Archive entries must be relative paths without "..".',
    );
  }
  const target = path.resolve(root, normalised);
  if (target !== root && !target.startsWith(root + path.sep)) {
    throw new TaskFailure(`${archive} contains an unsafe path "${entry}"`);
  }
  return target;
}

/** Streams a zip into `dir` (never the whole archive in memory). */
export async function extractZip(file: string, dir: string, name: string): Promise<void> {
  const writes: Promise<void>[] = [];
  let failure: Error | undefined;
  const unzip = new Unzip((entry) => {
    try {
      const target = safeEntryPath(dir, entry.name, name);
      if (entry.name.endsWith('/')) {
        writes.push(mkdir(target, { recursive: true }).then(() => {}));
        return;
      }
      const done = (async () => {
        await mkdir(path.dirname(target), { recursive: true });
        const out = createWriteStream(target);
        await new Promise<void>((resolve, reject) => {
          out.on('error', reject);
          out.on('finish', resolve);
          entry.ondata = (error, chunk, final) => {
            if (error) return reject(new TaskFailure(`${name} is damaged: ${error.message}`));
            out.write(chunk);
            if (final) out.end();
          };
          entry.start();
        });
      })();
      writes.push(done);
    } catch (error) {
      failure ??= error as Error;
    }
  });
  unzip.register(UnzipInflate);
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
      unzip.push(chunk as Uint8Array);
      if (failure) break;
    }
    if (!failure) unzip.push(new Uint8Array(0), true);
  } catch (error) {
    throw new TaskFailure(`${name} is not a readable zip archive: ${(error as Error).message}`);
  }
  await Promise.all(writes);
  if (failure) throw failure;
}

async function extractArchive(file: string, dir: string, name: string): Promise<void> {
  const lower = name.toLowerCase();
  if (lower.endsWith('.zip')) return extractZip(file, dir, name);
  if (lower.endsWith('.tar') || lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) {
    const refused: string[] = [];
    // node-tar refuses absolute paths and `..` itself unless preservePaths is set; record them.
    await extractTar({ file, cwd: dir, strict: true, onwarn: (_code, message) => refused.push(String(message)) }).catch(
      (error: Error) => {
        throw new TaskFailure(`${name} is not a readable tar archive: ${error.message}`);
      },
    );
    if (refused.some((m) => /\.\.|absolute/i.test(m)))
      throw new TaskFailure(`${name} contains unsafe paths`, refused.join('\n'));
    return;
  }
  throw new TaskFailure(
    `${name}: only .zip, .tar, .tar.gz and .tgz archives can be extracted here`,
    'Repack the include files as a zip archive and submit again.',
  );
}

async function download(store: ObjectStore, upload: UploadRow, file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await pipeline(await store.getObject(upload.object_key), createWriteStream(file));
}

async function findModels(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && MODEL_EXTENSIONS.includes(path.extname(entry.name).toLowerCase())) {
      found.push(path.join(entry.parentPath, entry.name));
    }
  }
  return found.sort();
}

export interface PreparedInputs {
  /** The file the solver opens. */
  masterPath: string;
  /** Where inputs were put (the master's references resolve from here). */
  inputDir: string;
}

/** Downloads and unpacks the task's files into `runDir/input`. */
export async function prepareInputs(
  store: ObjectStore,
  runDir: string,
  master: UploadRow,
  include: UploadRow | undefined,
): Promise<PreparedInputs> {
  const inputDir = path.join(runDir, 'input');
  const downloads = path.join(runDir, '.downloads');
  await mkdir(inputDir, { recursive: true });
  if (include) {
    const archive = path.join(downloads, 'include');
    await download(store, include, archive);
    await extractArchive(archive, inputDir, include.filename);
  }
  let masterPath: string;
  if (master.filename.toLowerCase().endsWith('.zip')) {
    const archive = path.join(downloads, 'master.zip');
    await download(store, master, archive);
    const before = new Set(await findModels(inputDir));
    await extractZip(archive, inputDir, master.filename);
    const models = (await findModels(inputDir)).filter((m) => !before.has(m));
    if (models.length === 0) {
      throw new TaskFailure(
        `${master.filename} contains no .speos or .sv5 file`,
        'Put exactly one SPEOS model (.speos or .sv5) in the zip, or upload the model file itself.',
      );
    }
    if (models.length > 1) {
      throw new TaskFailure(
        `${master.filename} contains ${models.length} SPEOS models; expected exactly one`,
        models.map((m) => path.relative(inputDir, m)).join('\n'),
      );
    }
    masterPath = models[0]!;
  } else {
    masterPath = safeEntryPath(inputDir, master.filename, 'the master file name');
    await download(store, master, masterPath);
  }
  await rm(downloads, { recursive: true, force: true });
  return { masterPath, inputDir };
}
