/** Helpers shared by the bench scripts (run.mjs, net/run-net.mjs). */

import { randomFillSync } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

const MiB = 1024 * 1024;

/** Writes `size` random bytes to `dir/name` (8 MiB at a time) and returns its path. */
export function makeFile(dir, name, size) {
  const file = path.join(dir, name);
  const fd = openSync(file, 'w');
  const chunk = Buffer.allocUnsafe(8 * MiB);
  for (let written = 0; written < size; ) {
    const n = Math.min(chunk.length, size - written);
    randomFillSync(chunk, 0, n);
    writeSync(fd, chunk, 0, n);
    written += n;
  }
  closeSync(fd);
  return file;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Peak RSS (VmHWM) of a live process in MiB; the last value read before it exits. */
export function watchPeak(pid) {
  let peak = 0;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      // The process ended: the last value read stands.
    }
  };
  const timer = setInterval(read, 25);
  return {
    stop() {
      read();
      clearInterval(timer);
      return peak;
    },
  };
}
