// Deterministic pseudo-random bytes for tests: the fake solver writes result files with them
// and a test computes the same bytes (and their sha256) to check what was stored.
import { createHash } from 'node:crypto';

/** `size` bytes from `seed`: SHA-256 in counter mode (fast enough for a few MiB, not a cipher). */
export function seededBytes(size, seed) {
  const out = Buffer.alloc(size);
  for (let offset = 0, counter = 0; offset < size; counter++) {
    const block = createHash('sha256').update(`${seed}:${counter}`).digest();
    offset += block.copy(out, offset, 0, Math.min(block.length, size - offset));
  }
  return out;
}
