/**
 * Tar archives with node-tar's parser, from any byte stream (a file, gunzip, or 7-Zip
 * decompressing bzip2/xz). node-tar reads the headers (ustar, pax, GNU long names); the
 * entries go to SafeTree one at a time, and the parser waits while one is being written.
 */
import { Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { TaskFailure } from '../task-failure.js';
import type { Extraction } from './safe-tree.js';

const SPECIAL: Partial<Record<ReadEntry['type'], string>> = {
  CharacterDevice: 'character device',
  BlockDevice: 'block device',
  FIFO: 'FIFO',
};

async function writeEntry(entry: ReadEntry, into: Extraction): Promise<void> {
  const name = entry.path;
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return into.file(name, Readable.from(entry, { objectMode: false }));
    case 'Directory':
    case 'GNUDumpDir':
      entry.resume();
      return into.directory(name);
    case 'SymbolicLink':
      entry.resume();
      return into.symlink(name, entry.linkpath ?? '');
    case 'Link':
      entry.resume();
      return into.hardLink(name, entry.linkpath ?? '');
    default:
      entry.resume();
      return into.special(name, SPECIAL[entry.type] ?? `tar entry of type ${entry.type}`);
  }
}

/** Extracts the tar in `source`; settles after the last entry is on disk. */
export async function extractTar(source: Readable, into: Extraction): Promise<void> {
  const archive = into.archive;
  const parser = new Parser({ strict: true });
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  parser.on('entry', (entry: ReadEntry) => {
    chain = chain.then(async () => {
      if (failure) return void entry.resume();
      try {
        await writeEntry(entry, into);
      } catch (error) {
        failure ??= error;
        entry.resume();
        source.unpipe(parser as never);
        source.destroy();
      }
    });
  });
  const parsed = new Promise<void>((resolve) => {
    const fail = (error: unknown) => {
      failure ??= error;
      resolve();
    };
    parser.on('error', fail);
    parser.on('end', resolve);
    source.on('error', (error) => {
      fail(error);
      // Ends the entry being written (node-tar reports it as truncated), so nothing waits for bytes that will not come.
      parser.end();
    });
    // A source cut off on purpose (a handler failed) ends nothing else.
    source.on('close', () => {
      if (failure) resolve();
    });
  });
  source.pipe(parser as never);
  await parsed;
  await chain;
  if (failure) {
    if (failure instanceof TaskFailure) throw failure;
    throw new TaskFailure(
      `${archive} is damaged or not a complete tar archive: ${(failure as Error).message}`,
      'Check that the upload finished and the archive opens on your computer, then submit it again.',
    );
  }
}
