/**
 * MD5 of part bodies on worker threads. Profiling a 500 MB upload showed MD5 on the
 * event loop as the server's largest cost (27% of its CPU samples); here the loop only
 * copies each batch once and hands it over (transfer, no second copy), and the hash runs
 * beside it on another core.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { ApiError } from '@speos-portal/protocol';

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

/** A hash thread and the sessions it holds, so its death can fail exactly those. */
interface Thread {
  worker: Worker;
  sessions: Map<number, SessionState>;
}

interface SessionState {
  /** Set when the thread died before the digest came back. */
  failure?: Error;
  /** Waiting for the digest. */
  settle?: { resolve: (digest: string) => void; reject: (error: Error) => void };
}

/** What a part PUT answers when its hash thread died: retryable (503), nothing was stored. */
function threadLost(reason: string): ApiError {
  return new ApiError(
    'STORAGE_UNAVAILABLE',
    `The server's hashing thread stopped (${reason}) while this part was arriving; nothing was stored. Send the part again.`,
  );
}

export class Md5Pool {
  readonly #size: number;
  #threads: Thread[] = [];
  readonly #free: ArrayBuffer[] = [];
  #nextId = 1;
  #closed = false;

  /** @param size threads; 0 hashes on the calling thread (the baseline the bench compares with). */
  constructor(size = 1) {
    this.#size = size;
  }

  /** The hash threads running now (for diagnostics and tests). */
  get threads(): readonly Worker[] {
    return this.#threads.map((t) => t.worker);
  }

  /** A BATCH_BYTES buffer to fill, then `push` to a session. */
  buffer(): Buffer {
    const reused = this.#free.pop();
    return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(BATCH_BYTES);
  }

  #spawn(): Thread {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref(); // never keeps the process alive on its own
    const thread: Thread = { worker, sessions: new Map() };
    worker.on('message', (m: { op?: 'free'; bytes: ArrayBuffer; id: number; digest: string }) => {
      if (m.op === 'free') {
        if (this.#free.length < KEEP_BUFFERS) this.#free.push(m.bytes);
        return;
      }
      const session = thread.sessions.get(m.id);
      thread.sessions.delete(m.id);
      session?.settle?.resolve(m.digest);
    });
    // A thread that throws or exits takes its sessions with it: fail them (the PUTs answer
    // 503 and clients resend) and let the next session start a fresh thread. Without an
    // 'error' listener the worker's error would be thrown in the main thread: an exit.
    const lose = (reason: string) => {
      this.#threads = this.#threads.filter((t) => t !== thread);
      for (const session of thread.sessions.values()) {
        session.failure = threadLost(reason);
        session.settle?.reject(session.failure);
      }
      thread.sessions.clear();
    };
    worker.on('error', (error) => lose(error.message));
    worker.on('exit', (code) => lose(this.#closed ? 'the server is shutting down' : `exit code ${code}`));
    this.#threads.push(thread);
    return thread;
  }

  #pick(): Thread {
    if (this.#threads.length < this.#size) return this.#spawn();
    return this.#threads.reduce((a, b) => (b.sessions.size < a.sessions.size ? b : a));
  }

  #inline(): Md5Session {
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

  session(): Md5Session {
    // After close() (a request finishing during shutdown) hashing goes on inline.
    if (this.#size === 0 || this.#closed) return this.#inline();
    const thread = this.#pick();
    const id = this.#nextId++;
    const state: SessionState = {};
    thread.sessions.set(id, state);
    return {
      push: (buffer, length) => {
        if (state.failure) return;
        const bytes = buffer.buffer as ArrayBuffer;
        thread.worker.postMessage({ op: 'data', id, bytes, length }, [bytes]);
      },
      digest: () =>
        new Promise<string>((resolve, reject) => {
          if (state.failure) return reject(state.failure);
          state.settle = { resolve, reject };
          thread.worker.postMessage({ op: 'end', id });
        }),
      drop: () => {
        if (!thread.sessions.delete(id)) return;
        thread.worker.postMessage({ op: 'drop', id });
      },
    };
  }

  /** Stops the threads (on shutdown, after the requests in flight). */
  async close(): Promise<void> {
    this.#closed = true;
    const threads = this.#threads;
    this.#threads = [];
    await Promise.all(threads.map(({ worker }) => worker.terminate()));
  }
}
