/** A browser File/Blob as a FileSource. */
import { Md5 } from './md5.js';
import type { FileSource } from './transport.js';

const HASH_STEP = 4 * 1024 * 1024;

export class BlobFileSource implements FileSource {
  readonly blob: Blob;
  readonly name: string;
  readonly size: number;
  readonly lastModified: number;
  readonly type: string | undefined;

  /** `name` and `lastModified` default to the File's own. */
  constructor(blob: Blob, options: { name?: string; lastModified?: number } = {}) {
    const file = blob as Partial<File>;
    this.blob = blob;
    this.name = options.name ?? file.name ?? 'blob';
    this.size = blob.size;
    this.lastModified = options.lastModified ?? file.lastModified ?? 0;
    this.type = blob.type || undefined;
  }

  /** `file.slice(start_byte, end_byte)` as the spec says. */
  slice(start: number, end: number): Blob {
    return this.blob.slice(start, end);
  }

  async md5(start: number, end: number, signal?: AbortSignal): Promise<string> {
    const md5 = new Md5();
    for (let offset = start; offset < end; offset += HASH_STEP) {
      signal?.throwIfAborted();
      const chunk = await this.blob.slice(offset, Math.min(end, offset + HASH_STEP)).arrayBuffer();
      md5.update(new Uint8Array(chunk));
    }
    return md5.hex();
  }
}
