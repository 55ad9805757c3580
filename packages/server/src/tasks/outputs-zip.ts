/**
 * outputs.zip, laid out before a byte is read, so a download has a Content-Length and
 * resumes with Range like any other file. That is why this is written here rather than
 * with a streaming zip library: those learn each entry's CRC and size only while
 * streaming it, so the offset of byte N is unknown until everything before it was read.
 * Knowing every file's size and CRC-32 (task_outputs.crc32), the archive is a fixed
 * sequence of pieces — header, file, header, file, …, central directory — and any byte
 * range maps to pieces of it.
 *
 * The format (PKWARE APPNOTE 6.3): entries stored (the results are read, not archived
 * for space), names in UTF-8 with general-purpose bit 11 set, no data descriptors (CRC and
 * sizes are in the local headers), ZIP64 fields for a file or offset at or past 4 GiB and
 * the ZIP64 end records for more than 65,534 entries. Every entry gets the task's finish
 * time, so the same task always gives the same bytes (the ETag is their fingerprint).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

export interface ZipSource {
  /** Path inside the archive, with `/`. */
  name: string;
  size: number;
  crc32: number;
  /** Where the bytes are; handed back to `read` as they are needed. */
  key: string;
}

const MAX16 = 0xffff;
const MAX32 = 0xffffffff;

interface Placed extends ZipSource {
  nameBytes: Buffer;
  /** Offset of the local header. */
  offset: number;
}

/** Bytes of a local header: fixed part, name, and the ZIP64 sizes for a file of 4 GiB or more. */
const localHeaderSize = (e: Placed) => 30 + e.nameBytes.length + (e.size >= MAX32 ? 20 : 0);

/** Bytes of a central directory header: the ZIP64 extra holds the sizes and/or the offset when they overflow. */
const centralHeaderSize = (e: Placed) =>
  46 +
  e.nameBytes.length +
  (e.size >= MAX32 || e.offset >= MAX32 ? 4 : 0) +
  (e.size >= MAX32 ? 16 : 0) +
  (e.offset >= MAX32 ? 8 : 0);

const UTF8 = 0x0800;
const UNIX = 3 << 8;
const FILE_MODE = (0o100644 << 16) >>> 0;
const COALESCE = 64 * 1024;

/** MS-DOS date and time (2-second resolution), in UTC so every server gives the same bytes. */
function dosDateTime(when: Date): { date: number; time: number } {
  const year = Math.min(Math.max(when.getUTCFullYear(), 1980), 2107);
  return {
    date: ((year - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate(),
    time: (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | Math.floor(when.getUTCSeconds() / 2),
  };
}

function zip64Extra(values: number[]): Buffer {
  if (values.length === 0) return Buffer.alloc(0);
  const extra = Buffer.alloc(4 + 8 * values.length);
  extra.writeUInt16LE(0x0001, 0);
  extra.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => {
    extra.writeBigUInt64LE(BigInt(v), 4 + 8 * i);
  });
  return extra;
}

export class OutputsZip {
  readonly size: number;
  readonly etag: string;
  readonly #entries: Placed[];
  readonly #centralOffset: number;
  readonly #centralSize: number;
  readonly #dos: { date: number; time: number };

  constructor(sources: ZipSource[], modified: Date) {
    this.#dos = dosDateTime(modified);
    let offset = 0;
    this.#entries = sources.map((source) => {
      const nameBytes = Buffer.from(source.name, 'utf8');
      const placed: Placed = { ...source, nameBytes, offset };
      offset += localHeaderSize(placed) + source.size;
      return placed;
    });
    this.#centralOffset = offset;
    this.#centralSize = this.#entries.reduce((sum, e) => sum + centralHeaderSize(e), 0);
    this.size = offset + this.#centralSize + this.#end().length;
    const fingerprint = createHash('sha256').update(`outputs.zip v1 ${modified.getTime()}\n`);
    for (const e of this.#entries) fingerprint.update(`${e.name}\0${e.size}\0${e.crc32}\0${e.key}\n`);
    this.etag = `"zip-${fingerprint.digest('hex').slice(0, 32)}"`;
  }

  get entryCount(): number {
    return this.#entries.length;
  }

  #localHeader(e: Placed): Buffer {
    const big = e.size >= MAX32;
    const extra = zip64Extra(big ? [e.size, e.size] : []);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(big ? 45 : 20, 4);
    header.writeUInt16LE(UTF8, 6);
    header.writeUInt16LE(0, 8); // stored
    header.writeUInt16LE(this.#dos.time, 10);
    header.writeUInt16LE(this.#dos.date, 12);
    header.writeUInt32LE(e.crc32 >>> 0, 14);
    header.writeUInt32LE(big ? MAX32 : e.size, 18);
    header.writeUInt32LE(big ? MAX32 : e.size, 22);
    header.writeUInt16LE(e.nameBytes.length, 26);
    header.writeUInt16LE(extra.length, 28);
    return Buffer.concat([header, e.nameBytes, extra]);
  }

  #centralHeader(e: Placed): Buffer {
    const bigSize = e.size >= MAX32;
    const bigOffset = e.offset >= MAX32;
    // ZIP64 extra: only the fields whose 32-bit slot says "see ZIP64", in this order.
    const extra = zip64Extra([...(bigSize ? [e.size, e.size] : []), ...(bigOffset ? [e.offset] : [])]);
    const version = bigSize || bigOffset ? 45 : 20;
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(UNIX | version, 4);
    header.writeUInt16LE(version, 6);
    header.writeUInt16LE(UTF8, 8);
    header.writeUInt16LE(0, 10);
    header.writeUInt16LE(this.#dos.time, 12);
    header.writeUInt16LE(this.#dos.date, 14);
    header.writeUInt32LE(e.crc32 >>> 0, 16);
    header.writeUInt32LE(bigSize ? MAX32 : e.size, 20);
    header.writeUInt32LE(bigSize ? MAX32 : e.size, 24);
    header.writeUInt16LE(e.nameBytes.length, 28);
    header.writeUInt16LE(extra.length, 30);
    // comment length, disk number, internal attributes: 0
    header.writeUInt32LE(FILE_MODE, 38);
    header.writeUInt32LE(bigOffset ? MAX32 : e.offset, 42);
    return Buffer.concat([header, e.nameBytes, extra]);
  }

  /** ZIP64 end record and locator when anything overflows the classic fields, then the end record. */
  #end(): Buffer {
    const count = this.#entries.length;
    const zip64 = count >= MAX16 || this.#centralOffset >= MAX32 || this.#centralSize >= MAX32;
    const parts: Buffer[] = [];
    if (zip64) {
      const record = Buffer.alloc(56);
      record.writeUInt32LE(0x06064b50, 0);
      record.writeBigUInt64LE(44n, 4);
      record.writeUInt16LE(UNIX | 45, 12);
      record.writeUInt16LE(45, 14);
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(this.#centralSize), 40);
      record.writeBigUInt64LE(BigInt(this.#centralOffset), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeBigUInt64LE(BigInt(this.#centralOffset + this.#centralSize), 8);
      locator.writeUInt32LE(1, 16);
      parts.push(record, locator);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(zip64 ? MAX16 : count, 8);
    end.writeUInt16LE(zip64 ? MAX16 : count, 10);
    end.writeUInt32LE(zip64 ? MAX32 : this.#centralSize, 12);
    end.writeUInt32LE(zip64 ? MAX32 : this.#centralOffset, 16);
    parts.push(end);
    return Buffer.concat(parts);
  }

  /** The pieces in order: header bytes, or a file's bytes to fetch. */
  *#pieces(): Generator<{ bytes: Buffer } | { entry: Placed }> {
    for (const e of this.#entries) {
      yield { bytes: this.#localHeader(e) };
      if (e.size > 0) yield { entry: e };
    }
    // The central directory is made a few entries at a time, not held whole (70,000 files ≈ 7 MB).
    let batch: Buffer[] = [];
    for (const e of this.#entries) {
      batch.push(this.#centralHeader(e));
      if (batch.length === 256) {
        yield { bytes: Buffer.concat(batch) };
        batch = [];
      }
    }
    if (batch.length > 0) yield { bytes: Buffer.concat(batch) };
    yield { bytes: this.#end() };
  }

  /**
   * Bytes `start`…`end` (inclusive) of the archive, reading each file's part through
   * `read(key, first, last)` only when the consumer wants it (backpressure end to end).
   */
  stream(
    read: (key: string, range: { start: number; end: number }) => Promise<Readable>,
    start = 0,
    end = this.size - 1,
  ): Readable {
    const pieces = this.#pieces();
    async function* slices() {
      let at = 0; // offset of the current piece
      for (const piece of pieces) {
        const length = 'bytes' in piece ? piece.bytes.length : piece.entry.size;
        const from = Math.max(start - at, 0);
        const to = Math.min(end - at, length - 1);
        at += length;
        if (to < from) {
          if (at > end) return;
          continue;
        }
        if ('bytes' in piece) yield piece.bytes.subarray(from, to + 1);
        else for await (const chunk of await read(piece.entry.key, { start: from, end: to })) yield chunk as Buffer;
        if (at > end) return;
      }
    }
    // Many small files would make as many tiny writes to the socket: send at least 64 KiB at a time.
    async function* bytes() {
      let pending: Buffer[] = [];
      let size = 0;
      for await (const slice of slices()) {
        pending.push(slice);
        size += slice.length;
        if (size >= COALESCE) {
          yield pending.length === 1 ? pending[0]! : Buffer.concat(pending);
          pending = [];
          size = 0;
        }
      }
      if (size > 0) yield Buffer.concat(pending);
    }
    return Readable.from(bytes(), { objectMode: false });
  }
}
