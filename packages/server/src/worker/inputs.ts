/**
 * Lays out a task's inputs in its working directory: the master (an archived master is
 * extracted and its single .speos/.sv5 found) and the include archive, extracted beside
 * it so the master's relative references resolve. Every archive goes through
 * archive/extract.ts and archive/safe-tree.ts: nothing lands outside the directory, and
 * each archive may only expand so far (EXTRACT_MAX_RATIO, EXTRACT_MAX_ENTRIES).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ARCHIVED_MODEL_EXTENSIONS, acceptedInputType } from '@speos-portal/protocol';
import type { UploadRow } from '../db/schema.js';
import type { ObjectStore } from '../storage/object-store.js';
import { extractArchive } from './archive/extract.js';
import { DEFAULT_EXTRACT_SETTINGS, type ExtractSettings } from './archive/limits.js';
import { normaliseEntryName, SafeTree } from './archive/safe-tree.js';
import { TaskFailure } from './task-failure.js';

export { TaskFailure };

async function download(store: ObjectStore, upload: UploadRow, file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await pipeline(await store.getObject(upload.object_key), createWriteStream(file));
}

async function findModels(dir: string): Promise<string[]> {
  const found: string[] = [];
  const models: readonly string[] = ARCHIVED_MODEL_EXTENSIONS;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && models.includes(path.extname(entry.name).toLowerCase())) {
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
  settings: ExtractSettings = DEFAULT_EXTRACT_SETTINGS,
): Promise<PreparedInputs> {
  const inputDir = path.join(runDir, 'input');
  const downloads = path.join(runDir, '.downloads');
  await mkdir(inputDir, { recursive: true });
  const tree = new SafeTree(inputDir);
  if (include) {
    const archive = path.join(downloads, 'include');
    await download(store, include, archive);
    await extractArchive(archive, tree, include.filename, settings);
  }
  let masterPath: string;
  const masterType = acceptedInputType(master.filename, 'master');
  if (masterType.ok && masterType.kind === 'archive') {
    const archive = path.join(downloads, 'master');
    await download(store, master, archive);
    const before = new Set(await findModels(inputDir));
    await extractArchive(archive, tree, master.filename, settings);
    const models = (await findModels(inputDir)).filter((m) => !before.has(m));
    if (models.length === 0) {
      throw new TaskFailure(
        `${master.filename} contains no .speos or .sv5 file`,
        'Put exactly one SPEOS model (.speos or .sv5) in the archive, or upload the model file itself.',
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
    // A model file (or, from before the check at init, a file of another type) goes to the solver as it is.
    masterPath = tree.absolute(normaliseEntryName(master.filename, 'the master file name') || 'master');
    if (tree.isLinkOrBelowOne(path.relative(inputDir, masterPath).split(path.sep).join('/'))) {
      throw new TaskFailure(`the include archive has a link where the master file ${master.filename} goes`);
    }
    await download(store, master, masterPath);
  }
  await tree.verifyLinks();
  await rm(downloads, { recursive: true, force: true });
  return { masterPath, inputDir };
}
