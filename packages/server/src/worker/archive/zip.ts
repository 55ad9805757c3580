/**
 * Zip archives with yauzl: ZIP64 (over 4 GiB, over 65,535 entries), one entry at a time
 * from the central directory, and sizes checked against what each entry declares (a
 * header that lies about its size is an error, not a bomb).
 *
 * Names are decoded here rather than by yauzl, because Chinese Windows tools store them
 * in GBK without saying so: the UTF-8 flag and the Info-ZIP Unicode Path field decide
 * first; otherwise ZIP_FILENAME_ENCODING, whose default `auto` reads the archive's
 * unmarked names as UTF-8 when they all are valid UTF-8, and as GB18030 (a superset of
 * GBK/CP936) when any is not.
 */
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import iconv from 'iconv-lite';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { TaskFailure } from '../task-failure.js';
import type { Extraction } from './safe-tree.js';

const UTF8_FLAG = 0x800;
const UNICODE_PATH_FIELD = 0x7075;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
/** A link's text is a path; anything longer is not one. */
const MAX_LINK_TEXT = 4096;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** The UTF-8 name of an Info-ZIP Unicode Path field that matches the header's name, if any. */
function unicodePath(entry: Entry): string | undefined {
  for (const field of entry.extraFields) {
    if (field.id !== UNICODE_PATH_FIELD || field.data.length < 6 || field.data[0] !== 1) continue;
    if (field.data.readUInt32LE(1) !== crc32(entry.fileNameRaw)) continue; // renamed since: ignore, as the spec says
    return field.data.subarray(5).toString('utf8');
  }
  return undefined;
}

/** Names that say how they are encoded; undefined for bytes whose encoding must be guessed. */
function declaredName(entry: Entry): string | undefined {
  if (entry.generalPurposeBitFlag & UTF8_FLAG) return entry.fileNameRaw.toString('utf8');
  return (
    unicodePath(entry) ?? (entry.fileNameRaw.every((b) => b < 0x80) ? entry.fileNameRaw.toString('latin1') : undefined)
  );
}

type EntryKind = 'directory' | 'file' | 'symlink' | { special: string };

function kindOf(entry: Entry, name: string): EntryKind {
  const unixMode = entry.versionMadeBy >> 8 === 3 ? entry.externalFileAttributes >>> 16 : 0;
  const type = unixMode & S_IFMT;
  if (name.endsWith('/') || name.endsWith('\\') || type === S_IFDIR) return 'directory';
  if (type === S_IFLNK) return 'symlink';
  if (type === 0 || type === S_IFREG) return 'file';
  const special: Record<number, string> = {
    4802: 'character device',
    14406: 'block device',
    2401: 'FIFO',
    26411: 'socket',
  };
  return { special: special[type] ?? 'special file' };
}

async function* readEntries(zip: ZipFile): AsyncGenerator<Entry> {
  for (;;) {
    const next = new Promise<Entry | undefined>((resolve, reject) => {
      const onEntry = (entry: Entry) => settle(() => resolve(entry));
      const onEnd = () => settle(() => resolve(undefined));
      const onError = (error: Error) => settle(() => reject(error));
      const settle = (then: () => void) => {
        zip.off('entry', onEntry).off('end', onEnd).off('error', onError);
        then();
      };
      zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
    });
    zip.readEntry();
    const entry = await next;
    if (!entry) return;
    yield entry;
  }
}

function open(file: string): Promise<ZipFile> {
  return yauzl.openPromise(file, {
    lazyEntries: true,
    decodeStrings: false,
    validateEntrySizes: true,
    autoClose: false,
  });
}

function damaged(archive: string, error: unknown): TaskFailure {
  if (error instanceof TaskFailure) return error;
  return new TaskFailure(
    `${archive} is damaged or not a complete zip archive: ${(error as Error).message}`,
    'Check that the upload finished and the archive opens on your computer, then submit it again.',
  );
}

async function readAll(stream: Readable, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) throw new Error(`a link longer than ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Two passes over the central directory: the first decides the name encoding and checks
 * names, kinds and the declared totals before anything is written; the second extracts.
 */
export async function extractZip(file: string, into: Extraction, encodingSetting: string): Promise<void> {
  const archive = into.archive;
  let zip: ZipFile | undefined;
  try {
    zip = await open(file);
    into.checkDeclared(zip.entryCount, 0);
    let declaredBytes = 0;
    let allUnmarkedAreUtf8 = true;
    for await (const entry of readEntries(zip)) {
      declaredBytes += entry.uncompressedSize;
      if (declaredName(entry) === undefined && !isUtf8(entry.fileNameRaw)) allUnmarkedAreUtf8 = false;
      if (entry.isEncrypted()) {
        throw new TaskFailure(
          `${archive} is password-protected`,
          'The worker cannot open encrypted archives; pack the files again without a password.',
        );
      }
    }
    into.checkDeclared(zip.entryCount, declaredBytes);
    zip.close();
    zip = undefined;

    const fallback = encodingSetting !== 'auto' ? encodingSetting : allUnmarkedAreUtf8 ? 'utf8' : 'gb18030';
    zip = await open(file);
    for await (const entry of readEntries(zip)) {
      const name = declaredName(entry) ?? iconv.decode(entry.fileNameRaw, fallback);
      const kind = kindOf(entry, name);
      if (kind === 'directory') {
        await into.directory(name);
      } else if (typeof kind === 'object') {
        into.special(name, kind.special);
      } else {
        const data = await zip.openReadStreamPromise(entry);
        if (kind === 'symlink') await into.symlink(name, await readAll(data, MAX_LINK_TEXT));
        else await into.file(name, data);
      }
    }
  } catch (error) {
    throw damaged(archive, error);
  } finally {
    if (zip?.isOpen) zip.close();
  }
}
