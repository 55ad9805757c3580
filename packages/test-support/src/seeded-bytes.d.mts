/** `size` bytes from `seed`: SHA-256 in counter mode (fast enough for a few MiB, not a cipher). */
export function seededBytes(size: number, seed: string | number): Buffer;
