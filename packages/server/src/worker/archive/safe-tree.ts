/**
 * The only place archive entries become files. Every extractor (zip, tar, 7z/RAR, single
 * compressed files) hands its entries here, so one set of rules holds for all formats:
 *
 * - a name is relative, without `..`, drive letters or a leading slash (backslashes count
 *   as separators, as Windows tools write them);
 * - nothing is written through a link, and a link may only point inside the tree — checked
 *   on its text when it is made, and with realpath once every archive of the task is out
 *   (a later link can change where an earlier one leads);
 * - device files and FIFOs are refused; modes from the archive are ignored (no setuid);
 * - bytes and entries are counted against the archive's budget as they are written, so a
 *   bomb stops at the limit, not at a full disk.
 */
import { createWriteStream } from 'node:fs';
import { link, mkdir, realpath, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TaskFailure } from '../task-failure.js';
import { type Budget, formatBytes } from './limits.js';

/** `a\b/./c` → `a/b/c`; throws for names that would leave the tree; '' for the tree itself. */
export function normaliseEntryName(name: string, archive: string): string {
  const unsafe = (why: string) =>
    new TaskFailure(
      `${archive} contains an unsafe path "${name}"`,
      `${why}. Archive entries must be relative paths inside the archive, without "..".`,
    );
  if (name.includes('\0')) throw unsafe('The name contains a NUL character');
  const slashed = name.replace(/\\/g, '/');
  if (slashed.startsWith('/')) throw unsafe('It is an absolute path');
  if (/^[A-Za-z]:/.test(slashed)) throw unsafe('It starts with a drive letter');
  const parts = slashed.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafe('It climbs out of its folder with ".."');
  return parts.join('/');
}

export class SafeTree {
  readonly root: string;
  /** Links made so far (relative path → target as written), across every archive of the task. */
  readonly #links = new Map<string, string>();
  /** Regular files written so far, which hard links may point at. */
  readonly #files = new Set<string>();
  /** Folders known to exist, so 70,000 files in 70 folders cost 70 mkdir calls, not 70,000. */
  readonly #folders = new Set<string>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** One archive's extraction into this tree, with its own budget. */
  begin(archive: string, budget: Budget): Extraction {
    return new Extraction(this, archive, budget);
  }

  isLinkOrBelowOne(relative: string): boolean {
    const parts = relative.split('/');
    for (let i = 1; i <= parts.length; i++) if (this.#links.has(parts.slice(0, i).join('/'))) return true;
    return false;
  }

  recordLink(relative: string, target: string): void {
    this.#links.set(relative, target);
    this.#files.delete(relative);
  }

  recordFile(relative: string): void {
    this.#files.add(relative);
  }

  hasFile(relative: string): boolean {
    return this.#files.has(relative);
  }

  /** Makes the folder (and its parents) unless this tree made it already. */
  async ensureFolder(full: string): Promise<void> {
    if (this.#folders.has(full)) return;
    await mkdir(full, { recursive: true });
    this.#folders.add(full);
  }

  absolute(relative: string): string {
    return relative === '' ? this.root : path.join(this.root, ...relative.split('/'));
  }

  /**
   * After the last archive: every link must resolve inside the tree. A link that leads
   * nowhere is removed (nothing can be read through it); one that leads out fails the task.
   */
  async verifyLinks(): Promise<string[]> {
    const removed: string[] = [];
    const root = await realpath(this.root);
    for (const relative of [...this.#links.keys()]) {
      const full = this.absolute(relative);
      let resolved: string;
      try {
        resolved = await realpath(full);
      } catch {
        await rm(full, { force: true });
        this.#links.delete(relative);
        removed.push(relative);
        continue;
      }
      if (resolved !== root && !resolved.startsWith(root + path.sep)) {
        throw new TaskFailure(
          `the link "${relative}" in the inputs leads outside the task's folder`,
          `It resolves to ${path.relative(root, resolved)}. Links in archives may only point at files inside them.`,
        );
      }
    }
    return removed;
  }
}

export class Extraction {
  readonly #tree: SafeTree;
  readonly archive: string;
  readonly #budget: Budget;
  entries = 0;
  bytes = 0;

  constructor(tree: SafeTree, archive: string, budget: Budget) {
    this.#tree = tree;
    this.archive = archive;
    this.#budget = budget;
  }

  /** Refuses up front what the archive declares, before a byte is written (zip, 7z, RAR). */
  checkDeclared(entries: number, bytes: number): void {
    if (entries > this.#budget.maxEntries) throw this.#tooManyEntries();
    if (bytes > this.#budget.maxBytes) throw this.#tooManyBytes();
  }

  #tooManyEntries(): TaskFailure {
    return new TaskFailure(
      `${this.archive} has more than ${this.#budget.maxEntries} entries, the limit EXTRACT_MAX_ENTRIES`,
      'Split the files into fewer, larger archives, or ask the operator to raise EXTRACT_MAX_ENTRIES.',
    );
  }

  #tooManyBytes(): TaskFailure {
    return new TaskFailure(
      `${this.archive} expands to more than ${formatBytes(this.#budget.maxBytes)}, the extraction limit (${this.#budget.bytesRule}); it may be a zip bomb`,
      'If the archive is genuine, ask the operator to raise EXTRACT_MAX_RATIO.',
    );
  }

  #count(): void {
    this.entries++;
    if (this.entries > this.#budget.maxEntries) throw this.#tooManyEntries();
  }

  /** The entry's place in the tree, after the name and link rules; '' is the tree itself. */
  #place(name: string): string {
    const relative = normaliseEntryName(name, this.archive);
    if (relative !== '' && this.#tree.isLinkOrBelowOne(relative)) {
      throw new TaskFailure(
        `${this.archive} writes "${name}" through a link`,
        'Archives may not put files inside or over a link they contain.',
      );
    }
    return relative;
  }

  async directory(name: string): Promise<void> {
    this.#count();
    const relative = this.#place(name);
    await this.#io(name, () => this.#tree.ensureFolder(this.#tree.absolute(relative)));
  }

  /** Streams one file's bytes to disk, with backpressure, counting them against the budget. */
  async file(name: string, data: Readable): Promise<void> {
    this.#count();
    const relative = this.#place(name);
    if (relative === '') throw new TaskFailure(`${this.archive} contains a file without a name`);
    const target = this.#tree.absolute(relative);
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        this.bytes += chunk.length;
        if (this.bytes > this.#budget.maxBytes) done(this.#tooManyBytes());
        else done(null, chunk);
      },
    });
    await this.#io(name, async () => {
      await this.#tree.ensureFolder(path.dirname(target));
      await pipeline(data, counter, createWriteStream(target, { mode: 0o644 }));
    });
    this.#tree.recordFile(relative);
  }

  /** A symbolic link whose text keeps it inside the tree (re-checked by SafeTree.verifyLinks). */
  async symlink(name: string, target: string): Promise<void> {
    this.#count();
    const relative = this.#place(name);
    const text = target.replace(/\\/g, '/');
    // Resolved on paper below a stand-in root: '..' past it shows as leaving it ('/' would absorb it).
    const resolved = path.posix.join('/tree', path.posix.dirname(relative), text);
    const inside = resolved === '/tree' || resolved.startsWith('/tree/');
    if (relative === '' || text === '' || text.startsWith('/') || /^[A-Za-z]:/.test(text) || !inside) {
      throw new TaskFailure(
        `${this.archive} contains a link "${name}" that points outside it (to "${target}")`,
        'Links in archives may only point at files inside them.',
      );
    }
    const full = this.#tree.absolute(relative);
    await this.#io(name, async () => {
      await this.#tree.ensureFolder(path.dirname(full));
      await rm(full, { recursive: true, force: true });
      await symlink(text, full);
    });
    this.#tree.recordLink(relative, text);
  }

  /** A hard link to a file this task's archives already wrote (tar, RAR5). */
  async hardLink(name: string, target: string): Promise<void> {
    this.#count();
    const relative = this.#place(name);
    const existing = normaliseEntryName(target, this.archive);
    if (!this.#tree.hasFile(existing) || this.#tree.isLinkOrBelowOne(existing)) {
      throw new TaskFailure(
        `${this.archive} contains a hard link "${name}" to "${target}", which is not a file extracted before it`,
        'Hard links in archives may only point at files earlier in the same archive.',
      );
    }
    const full = this.#tree.absolute(relative);
    await this.#io(name, async () => {
      await this.#tree.ensureFolder(path.dirname(full));
      await rm(full, { force: true });
      await link(this.#tree.absolute(existing), full);
    });
    this.#tree.recordFile(relative);
  }

  /** Device files, FIFOs, sockets: never created. */
  special(name: string, kind: string): never {
    throw new TaskFailure(
      `${this.archive} contains a ${kind} "${name}"`,
      'Archives may hold only files, folders and links to files inside them.',
    );
  }

  /** File-system errors name the entry; a budget or safety failure passes through as it is. */
  async #io(name: string, action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (error) {
      if (error instanceof TaskFailure) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC') throw new TaskFailure(`the worker's disk is full while extracting ${this.archive}`);
      // Other errors (truncated data, a bad CRC…) come from the archive reader, which names them.
      if (!code || !['EISDIR', 'ENOTDIR', 'EEXIST', 'ENAMETOOLONG', 'EINVAL', 'EPERM'].includes(code)) throw error;
      throw new TaskFailure(`${this.archive}: cannot write "${name}": ${(error as Error).message}`);
    }
  }
}
