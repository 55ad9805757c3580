/**
 * The solver's output on its way to the database, kept until the database has it. While the
 * database cannot be reached the text waits in memory, and past MEMORY_LIMIT in a file in
 * the run's working directory, so a long outage costs neither log lines nor memory. Order
 * is kept: the file always holds the oldest unwritten text.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';

/** Unwritten text kept in memory before it moves to the spill file. */
export const MEMORY_LIMIT = 256 * 1024;
/** Unwritten text that asks for a write before the next heartbeat. */
export const FLUSH_BYTES = 64 * 1024;
/** Largest piece written to the database in one transaction. */
const WRITE_CHUNK = 256 * 1024;

/**
 * Appends `text` to the task's log, which the caller believes is `expectedStart` bytes long;
 * resolves with the log's new length.
 */
export type LogWriter = (text: string, expectedStart: number) => Promise<number>;

interface InFlight {
  text: string;
  bytes: number;
  /** From memory: true once it was also copied to the front of the spill file. */
  spilled: boolean;
  fromMemory: boolean;
}

export class LogSink {
  readonly #write: LogWriter;
  readonly #spillPath: string;
  #size: number;
  #memory = '';
  #memoryBytes = 0;
  /** Bytes in the spill file, and how many of them the database already has. */
  #spilled = 0;
  #spillRead = 0;
  #inFlight: InFlight | undefined;
  #flushing: Promise<boolean> | undefined;
  /** The last write failed: wait for the next heartbeat's flush instead of trying per chunk of output. */
  #failing = false;
  #appended = 0;
  #written = 0;
  #lastError: unknown;
  /** Writing the spill file failed once: from then on everything stays in memory. */
  #spillBroken = false;

  /**
   * @param size the log's length in the database now (logs of earlier runs of the task stay)
   * @param spillPath where unwritten text goes past MEMORY_LIMIT
   */
  constructor(write: LogWriter, size: number, spillPath: string) {
    this.#write = write;
    this.#size = size;
    this.#spillPath = spillPath;
  }

  /** Text not yet in the database. */
  get pendingBytes(): number {
    return this.#appended - this.#written;
  }

  /** Text waiting in the spill file. */
  get spilledBytes(): number {
    return this.#spilled - this.#spillRead;
  }

  /** True after a write failed, until one succeeds. */
  get failing(): boolean {
    return this.#failing;
  }

  /** Why the last write failed. */
  get lastError(): unknown {
    return this.#lastError;
  }

  append(text: string): void {
    if (!text) return;
    const bytes = Buffer.byteLength(text);
    this.#appended += bytes;
    // Once text waits on disk, newer text goes after it there.
    if (this.#spilled > this.#spillRead && this.#memoryBytes === 0 && this.#toSpill(text, bytes)) return;
    this.#memory += text;
    this.#memoryBytes += bytes;
    if (this.#memoryBytes > MEMORY_LIMIT && !this.#spillBroken) {
      // Text taken from memory and still being written is older than memory: it goes first.
      const flight = this.#inFlight;
      if (flight?.fromMemory && !flight.spilled) {
        if (!this.#toSpill(flight.text, flight.bytes)) return;
        flight.spilled = true;
      }
      if (this.#toSpill(this.#memory, this.#memoryBytes)) {
        this.#memory = '';
        this.#memoryBytes = 0;
      }
    } else if (this.#memoryBytes >= FLUSH_BYTES && !this.#failing && !this.#flushing) {
      void this.flush();
    }
  }

  /**
   * Writes what was appended before the call (one flush at a time; a second call waits for
   * the first and continues). Resolves true when all of it is in the database, false when a
   * write failed — the text is kept for the next flush.
   */
  flush(): Promise<boolean> {
    const target = this.#appended;
    const run = async (): Promise<boolean> => {
      if (this.#flushing) await this.#flushing;
      return this.#drain(target);
    };
    const flushing = run().finally(() => {
      if (this.#flushing === flushing) this.#flushing = undefined;
    });
    this.#flushing = flushing;
    return flushing;
  }

  /** Removes the spill file (the run is over and nothing more will be flushed). */
  discard(): void {
    rmSync(this.#spillPath, { force: true });
  }

  async #drain(target: number): Promise<boolean> {
    while (this.#written < target) {
      const piece = this.#nextPiece();
      if (!piece) return true;
      this.#inFlight = piece;
      try {
        this.#size = await this.#write(piece.text, this.#size);
      } catch (error) {
        this.#inFlight = undefined;
        this.#failing = true;
        this.#lastError = error;
        if (piece.fromMemory && !piece.spilled) {
          this.#memory = piece.text + this.#memory;
          this.#memoryBytes += piece.bytes;
        }
        return false;
      }
      this.#inFlight = undefined;
      this.#failing = false;
      this.#written += piece.bytes;
      if (!piece.fromMemory || piece.spilled) this.#consumeSpill(piece.bytes);
    }
    return true;
  }

  #nextPiece(): InFlight | undefined {
    if (this.#spilled > this.#spillRead) {
      const text = this.#readSpill(Math.min(WRITE_CHUNK, this.#spilled - this.#spillRead));
      return { text, bytes: Buffer.byteLength(text), spilled: false, fromMemory: false };
    }
    if (!this.#memory) return undefined;
    const piece = { text: this.#memory, bytes: this.#memoryBytes, spilled: false, fromMemory: true };
    this.#memory = '';
    this.#memoryBytes = 0;
    return piece;
  }

  /** Appends to the spill file; false (and no more spilling) when the disk refuses. */
  #toSpill(text: string, bytes: number): boolean {
    if (this.#spillBroken) return false;
    try {
      const fd = openSync(this.#spillPath, 'a');
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
    } catch {
      // No room on disk (or no directory): better to hold the text in memory than to drop it.
      this.#spillBroken = true;
      return false;
    }
    this.#spilled += bytes;
    return true;
  }

  /** Up to `max` bytes from the front of the unwritten part of the spill file, ending on a whole character. */
  #readSpill(max: number): string {
    const buffer = Buffer.alloc(max);
    const fd = openSync(this.#spillPath, 'r');
    let length: number;
    try {
      length = readSync(fd, buffer, 0, max, this.#spillRead);
    } finally {
      closeSync(fd);
    }
    let end = length;
    if (this.#spillRead + length < this.#spilled) {
      // End before a character the chunk cuts: find the last character's lead byte
      // (continuation bytes are 10xxxxxx) and see whether all of it is in the chunk.
      let lead = length - 1;
      while (lead > 0 && (buffer[lead]! & 0xc0) === 0x80) lead--;
      const first = buffer[lead]!;
      const width = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
      if (lead + width > length) end = lead;
    }
    return buffer.subarray(0, end).toString('utf8');
  }

  #consumeSpill(bytes: number): void {
    this.#spillRead += bytes;
    if (this.#spillRead >= this.#spilled) {
      rmSync(this.#spillPath, { force: true });
      this.#spilled = 0;
      this.#spillRead = 0;
    }
  }
}
