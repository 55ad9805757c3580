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

/**
 * Size of the buffers the pool lends (and of the server's write batches): every part in
 * flight fills one. 128 KiB keeps syscalls and messages few (40 per 5 MiB part); against
 * 256 KiB it lowered the peak of a 1 GiB upload from 32 connections by 4–6 MiB at the same
 * speed (docs/performance.md, "Server memory").
 */
export const BATCH_BYTES = 128 * 1024;
/**
 * Batches handed to the hash threads and not yet back. On a busy machine the threads can
 * fall behind the sockets (measured on loopback: over 100 batches queued); a part that
 * would send more waits instead, so memory stays bounded (2 MiB) whatever the load.
 * Parts still filling their batch never wait here: a slow client cannot hold others up.
 */
export const MAX_IN_TRANSIT = 16;
/** Buffers kept for reuse (those back from the threads); more are allocated while busy and dropped. */
const KEEP_BUFFERS = MAX_IN_TRANSIT;

/** One part's running hash. */
export interface Md5Session {
  /**
   * Hashes the first `length` bytes of `buffer` (from `Md5Pool.buffer()`) and takes it
   * over: the caller must not touch it afterwards. Resolves once the batch is on its way,
   * which waits while MAX_IN_TRANSIT batches are out.
   */
  push(buffer: Buffer, length: number): Promise<void>;
  digest(): Promise<string>;
  /** Forget the hash (the part was refused). */
  drop(): void;
}

/** A hash thread and the sessions it holds, so its death can fail exactly those. */
interface Thread {
  worker: Worker;
  sessions: Map<number, SessionState>;
  /** Batches sent to this thread and not yet handed back. */
  inTransit: number;
}

interface SessionState {
  /** Set when the thread died before the digest came back. */
  failure?: Error;
  /** Waiting for the digest. */
  settle?: { resolve: (digest: string) => void; reject: (error: Error) => void };
  /** The last push still waiting for a slot. */
  sending?: Promise<void>;
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
  /** Slots taken (batches out, or about to be sent) out of MAX_IN_TRANSIT. */
  #slotsTaken = 0;
  /** Pushes waiting for a slot, each already counted in #slotsTaken when woken. */
  readonly #waiting: (() => void)[] = [];
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

  /** Batches out to the threads, or waiting in `push` with a slot (never above MAX_IN_TRANSIT). */
  get batchesOut(): number {
    return this.#slotsTaken;
  }

  /** A BATCH_BYTES buffer to fill, then `push` to a session. */
  buffer(): Buffer {
    const reused = this.#free.pop();
    return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(BATCH_BYTES);
  }

  #spawn(): Thread {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref(); // never keeps the process alive on its own
    const thread: Thread = { worker, sessions: new Map(), inTransit: 0 };
    worker.on('message', (m: { op?: 'free'; bytes: ArrayBuffer; id: number; digest: string }) => {
      if (m.op === 'free') {
        thread.inTransit--;
        this.#releaseSlots(1);
        this.#keep(m.bytes);
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
      // Its batches will never come back: their slots are free again.
      this.#releaseSlots(thread.inTransit);
      thread.inTransit = 0;
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

  /** Takes a slot for one batch, waiting while all MAX_IN_TRANSIT are out. */
  #takeSlot(): Promise<void> | undefined {
    if (this.#slotsTaken < MAX_IN_TRANSIT) {
      this.#slotsTaken++;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #releaseSlots(count: number): void {
    this.#slotsTaken -= count;
    while (this.#slotsTaken < MAX_IN_TRANSIT && this.#waiting.length > 0) {
      this.#slotsTaken++;
      this.#waiting.shift()!();
    }
  }

  #keep(bytes: ArrayBuffer): void {
    if (this.#free.length < KEEP_BUFFERS) this.#free.push(bytes);
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
        this.#keep(buffer.buffer as ArrayBuffer);
        return Promise.resolve();
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
        const send = () => {
          // The thread may have died while this push waited (its sessions are failed): nothing to send it to.
          if (state.failure) {
            this.#releaseSlots(1);
            return;
          }
          const bytes = buffer.buffer as ArrayBuffer;
          thread.inTransit++;
          thread.worker.postMessage({ op: 'data', id, bytes, length }, [bytes]);
        };
        const wait = this.#takeSlot();
        if (!wait) {
          send();
          return Promise.resolve();
        }
        // Waiting pushes are woken first come, first served, so a part's batches stay in order.
        state.sending = wait.then(send);
        return state.sending;
      },
      digest: async () => {
        await state.sending; // a batch still waiting for a slot goes first
        return new Promise<string>((resolve, reject) => {
          if (state.failure) return reject(state.failure);
          state.settle = { resolve, reject };
          thread.worker.postMessage({ op: 'end', id });
        });
      },
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
