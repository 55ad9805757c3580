/**
 * Incremental MD5 (RFC 1321) in plain TypeScript, for browsers: WebCrypto has no MD5, and the
 * resume check compares a local slice with the part's ETag, which is the part's MD5.
 * Node code should use `node:crypto` instead (it is ~5× faster).
 */

// Per-round shift amounts (RFC 1321 3.4).
const S = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4,
  11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];
// K[i] = floor(abs(sin(i + 1)) * 2^32) (RFC 1321 3.4).
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) >>> 0);

/**
 * @example
 * const md5 = new Md5();
 * md5.update(new TextEncoder().encode('abc'));
 * md5.hex(); // '900150983cd24fb0d6963f7d28e17f72'
 */
export class Md5 {
  #state = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
  #buffer = new Uint8Array(64);
  #buffered = 0;
  #length = 0;
  #words = new Uint32Array(16);
  #done = false;

  /** Feeds more bytes; call as often as needed. */
  update(data: Uint8Array): this {
    if (this.#done) throw new Error('Md5: update() after hex()');
    this.#length += data.length;
    let offset = 0;
    if (this.#buffered > 0) {
      const take = Math.min(64 - this.#buffered, data.length);
      this.#buffer.set(data.subarray(0, take), this.#buffered);
      this.#buffered += take;
      offset = take;
      if (this.#buffered < 64) return this;
      this.#block(this.#buffer, 0);
      this.#buffered = 0;
    }
    for (; offset + 64 <= data.length; offset += 64) this.#block(data, offset);
    if (offset < data.length) {
      this.#buffer.set(data.subarray(offset), 0);
      this.#buffered = data.length - offset;
    }
    return this;
  }

  /** Finishes and returns the lowercase hex digest. */
  hex(): string {
    if (!this.#done) {
      const bits = this.#length * 8;
      const padLength = this.#buffered < 56 ? 56 - this.#buffered : 120 - this.#buffered;
      const tail = new Uint8Array(padLength + 8);
      tail[0] = 0x80;
      // Length in bits, little-endian 64-bit; split because JS bit ops are 32-bit.
      const low = bits >>> 0;
      const high = Math.floor(bits / 0x100000000) >>> 0;
      for (let i = 0; i < 4; i++) {
        tail[padLength + i] = (low >>> (8 * i)) & 0xff;
        tail[padLength + 4 + i] = (high >>> (8 * i)) & 0xff;
      }
      const length = this.#length;
      this.update(tail);
      this.#length = length;
      this.#done = true;
    }
    let out = '';
    for (const word of this.#state) {
      for (let i = 0; i < 4; i++) out += ((word >>> (8 * i)) & 0xff).toString(16).padStart(2, '0');
    }
    return out;
  }

  #block(data: Uint8Array, offset: number): void {
    const x = this.#words;
    for (let i = 0; i < 16; i++) {
      const j = offset + i * 4;
      x[i] = data[j]! | (data[j + 1]! << 8) | (data[j + 2]! << 16) | (data[j + 3]! << 24);
    }
    let [a, b, c, d] = this.#state as unknown as [number, number, number, number];
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const sum = (a + f + K[i]! + x[g]!) | 0;
      const s = S[i]!;
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    }
    const st = this.#state;
    st[0] = (st[0]! + a) | 0;
    st[1] = (st[1]! + b) | 0;
    st[2] = (st[2]! + c) | 0;
    st[3] = (st[3]! + d) | 0;
  }
}

/** MD5 of one buffer as lowercase hex. */
export function md5Hex(data: Uint8Array): string {
  return new Md5().update(data).hex();
}
