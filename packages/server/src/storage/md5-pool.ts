/**
 * MD5 of part bodies on worker threads. Profiling a 500 MB upload showed MD5 on the
 * event loop as the server's largest cost (27% of its CPU samples); here the loop only
 * copies each batch once and hands it over (transfer, no second copy), and the hash runs
 * beside it on another core.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

// Inline (eval) so the same code works from src/ under Vitest and from dist/.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'data') {
    let h = hashes.get(m.id);
    if (!h) hashes.set(m.id, (h = createHash('md5')));
    h.update(new Uint8Array(m.bytes, 0, m.length));
    // Hand the buffer back for reuse: no garbage for either isolate's collector.
    parentPort.postMessage({ op: 'free', bytes: m.bytes }, [m.bytes]);
  } else if (m.op === 'end') {
    const h = hashes.get(m.id) ?? createHash('md5');
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, digest: h.digest('hex') });
  } else if (m.op === 'drop') {
    hashes.delete(m.id);
  }
});
`;

/** Size of the buffers the pool lends (and of the server's write batches). */
export const BATCH_BYTES = 1024 * 1024;
/** Buffers kept for reuse; more in flight are allocated and dropped after use. */
const KEEP_BUFFERS = 32;

/** One part's running hash. */
export interface Md5Session {
  /**
   * Hashes the first `length` bytes of `buffer` (from `Md5Pool.buffer()`) and takes it
   * over: the caller must not touch it afterwards.
   */
  push(buffer: Buffer, length: number): void;
  digest(): Promise<string>;
  /** Forget the hash (the part was refused). */
  drop(): void;
}

export class Md5Pool {
  readonly #size: number;
  #workers: { worker: Worker; busy: number }[] = [];
  readonly #waiting = new Map<number, (digest: string) => void>();
  readonly #free: ArrayBuffer[] = [];
  #nextId = 1;

  /** @param size threads; 0 hashes on the calling thread (the baseline the bench compares with). */
  constructor(size = 1) {
    this.#size = size;
  }

  /** A BATCH_BYTES buffer to fill, then `push` to a session. */
  buffer(): Buffer {
    const reused = this.#free.pop();
    return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(BATCH_BYTES);
  }

  #pick(): { worker: Worker; busy: number } {
    if (this.#workers.length < this.#size) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref(); // never keeps the process alive on its own
      worker.on('message', (m: { op?: 'free'; bytes: ArrayBuffer; id: number; digest: string }) => {
        if (m.op === 'free') {
          if (this.#free.length < KEEP_BUFFERS) this.#free.push(m.bytes);
          return;
        }
        const resolve = this.#waiting.get(m.id);
        this.#waiting.delete(m.id);
        resolve?.(m.digest);
      });
      const entry = { worker, busy: 0 };
      this.#workers.push(entry);
      return entry;
    }
    return this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  session(): Md5Session {
    if (this.#size === 0) {
      const hash = createHash('md5');
      return {
        push: (buffer, length) => {
          hash.update(buffer.subarray(0, length));
          if (this.#free.length < KEEP_BUFFERS) this.#free.push(buffer.buffer as ArrayBuffer);
        },
        digest: async () => hash.digest('hex'),
        drop: () => {},
      };
    }
    const entry = this.#pick();
    const id = this.#nextId++;
    entry.busy++;
    let done = false;
    const finish = () => {
      if (!done) entry.busy--;
      done = true;
    };
    return {
      push: (buffer, length) => {
        const bytes = buffer.buffer as ArrayBuffer;
        entry.worker.postMessage({ op: 'data', id, bytes, length }, [bytes]);
      },
      digest: () =>
        new Promise<string>((resolve) => {
          this.#waiting.set(id, (digest) => {
            finish();
            resolve(digest);
          });
          entry.worker.postMessage({ op: 'end', id });
        }),
      drop: () => {
        finish();
        entry.worker.postMessage({ op: 'drop', id });
      },
    };
  }

  async close(): Promise<void> {
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(workers.map(({ worker }) => worker.terminate()));
  }
}
