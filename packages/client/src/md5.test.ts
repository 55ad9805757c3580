import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Md5, md5Hex } from './md5.js';

const reference = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

describe('Md5', () => {
  it('matches the RFC 1321 test suite', () => {
    const enc = new TextEncoder();
    expect(md5Hex(enc.encode(''))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(md5Hex(enc.encode('abc'))).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(md5Hex(enc.encode('message digest'))).toBe('f96b697d7cb7938d525a2f31aaf161d0');
    expect(md5Hex(enc.encode('1234567890'.repeat(8)))).toBe('57edf4a22be3c955ac49da2e2107b67a');
  });

  it('matches node:crypto for every length around the block and padding boundaries', () => {
    const data = randomBytes(300);
    for (let n = 0; n <= 300; n++)
      expect(md5Hex(data.subarray(0, n)), `length ${n}`).toBe(reference(data.subarray(0, n)));
  });

  it('gives the same digest however the input is split', () => {
    const data = randomBytes(5 * 1024 * 1024 + 17);
    const md5 = new Md5();
    let offset = 0;
    for (const step of [1, 63, 64, 65, 1000, 70_000]) {
      md5.update(data.subarray(offset, offset + step));
      offset += step;
    }
    md5.update(data.subarray(offset));
    expect(md5.hex()).toBe(reference(data));
  });

  it('reads unaligned views correctly (byteOffset not a multiple of 4)', () => {
    const backing = new Uint8Array(randomBytes(4096 + 3));
    for (const shift of [0, 1, 2, 3]) {
      const view = backing.subarray(shift, shift + 4096);
      expect(md5Hex(view)).toBe(reference(view));
    }
  });
});
