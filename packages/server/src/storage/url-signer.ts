/**
 * Upload URLs of the filesystem store: HMAC-SHA256 over (upload, part, size, expiry),
 * so a URL cannot be moved to another part, resized or extended. Compared in constant time.
 */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '@speos-portal/protocol';
import { type Clock, systemClock } from '../clock.js';

export interface PartGrant {
  uploadId: string;
  partNumber: number;
  size: number;
  /** Epoch seconds. */
  expiresAt: number;
}

export class UrlSigner {
  readonly #key: Buffer;
  readonly #clock: Clock;

  /** `clock` decides when a URL has expired (tests move it instead of waiting). */
  constructor(key: string | Buffer, clock: Clock = systemClock) {
    this.#key = Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
    this.#clock = clock;
  }

  sign(grant: PartGrant): string {
    return createHmac('sha256', this.#key)
      .update(`${grant.uploadId}\n${grant.partNumber}\n${grant.size}\n${grant.expiresAt}`)
      .digest('base64url');
  }

  /** Query string for a grant: `size=…&expires=…&signature=…`. */
  query(grant: PartGrant): string {
    return `size=${grant.size}&expires=${grant.expiresAt}&signature=${this.sign(grant)}`;
  }

  /**
   * Throws SIGNATURE_INVALID for a URL this key did not sign (checked first, so a tampered
   * expiry is reported as tampering), then URL_EXPIRED once `expiresAt` has passed.
   */
  verify(grant: PartGrant, signature: string, nowSeconds = this.#clock() / 1000): void {
    const expected = Buffer.from(this.sign(grant), 'utf8');
    const given = Buffer.from(signature, 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError(
        'SIGNATURE_INVALID',
        'The upload URL is not valid: it was altered or signed by another server. Ask for a fresh one with /tasks/upload/multipart/sign.',
      );
    }
    if (nowSeconds > grant.expiresAt) {
      throw new ApiError(
        'URL_EXPIRED',
        `The upload URL expired at ${new Date(grant.expiresAt * 1000).toISOString()}. Ask for a fresh one with /tasks/upload/multipart/sign.`,
      );
    }
  }
}

/** The configured key, or one generated on first start and kept in `dataDir/signing.key`. */
export async function loadSigningKey(configured: string | undefined, dataDir: string): Promise<string> {
  if (configured) return configured;
  const file = path.join(dataDir, 'signing.key');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64url');
  try {
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(file, 'utf8')).trim();
    throw error;
  }
}
