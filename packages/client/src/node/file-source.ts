/** A file on disk as a FileSource: positional reads only, never the whole file in memory. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileSource } from '../transport.js';

export class NodeFileSource implements FileSource {
  readonly path: string;
  readonly name: string;
  readonly size: number;
  readonly lastModified: number;
  readonly type: string | undefined = undefined;

  private constructor(absolutePath: string, size: number, lastModified: number, name: string) {
    this.path = absolutePath;
    this.size = size;
    this.lastModified = lastModified;
    this.name = name;
  }

  /**
   * Stats the file; throws a readable error when it is missing, a directory or empty.
   * @example const source = await NodeFileSource.open('model.speos');
   */
  static async open(file: string, options: { name?: string } = {}): Promise<NodeFileSource> {
    const absolute = path.resolve(file);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(absolute);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(error)})`);
    }
    if (!info.isFile()) throw new Error(`${file}: not a regular file`);
    if (info.size === 0) throw new Error(`${file}: the file is empty`);
    return new NodeFileSource(absolute, info.size, Math.round(info.mtimeMs), options.name ?? path.basename(absolute));
  }

  /** A stream of bytes [start, end). 1 MiB reads: about a third less CPU than 64 KiB ones for the same bytes. */
  read(start: number, end: number, signal?: AbortSignal) {
    return createReadStream(this.path, { start, end: end - 1, highWaterMark: 1024 * 1024, signal });
  }

  async md5(start: number, end: number, signal?: AbortSignal): Promise<string> {
    const hash = createHash('md5');
    for await (const chunk of this.read(start, end, signal)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }
}
