/**
 * `speos-portal login` without copy-paste, after OAuth's device authorization grant
 * (RFC 8628): the CLI gets a device code (kept secret) and a short user code (shown to the
 * person); a signed-in person approves the user code in the browser; the CLI's next poll
 * receives a new personal API token — exactly once, whatever races.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { ApiError } from '@speos-portal/protocol';
import type { Db } from '../db/connect.js';
import { createApiToken } from './tokens.js';

/** RFC 8628 §6.1: consonants only (no vowels, so no words), 20^8 ≈ 2.6·10^10 codes. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const DEVICE_CODE_TTL_MS = 10 * 60_000;
export const POLL_INTERVAL_SECONDS = 2;

const hash = (code: string) => createHash('sha256').update(code).digest('hex');

function newUserCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** What people type: any case, with or without the dash or spaces. */
export function normaliseUserCode(input: string): string | undefined {
  const letters = input.toUpperCase().replace(/[\s-]/g, '');
  if (letters.length !== 8 || [...letters].some((c) => !USER_CODE_ALPHABET.includes(c))) return undefined;
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

export type PollResult =
  | { status: 'pending' }
  | { status: 'slow_down' }
  | { status: 'issued'; secret: string; tokenId: string; name: string; expiresAt: number | null; userId: string };

export class DeviceLogins {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async start(clientName: string, now: number): Promise<{ deviceCode: string; userCode: string; expiresAt: number }> {
    await this.#db.deleteFrom('device_logins').where('expires_at', '<=', now).execute();
    const deviceCode = randomBytes(32).toString('base64url');
    const expiresAt = now + DEVICE_CODE_TTL_MS;
    // A clash of user codes among the few live ones is rare; the unique index catches it, then try another.
    for (let attempt = 0; ; attempt++) {
      const userCode = newUserCode();
      try {
        await this.#db
          .insertInto('device_logins')
          .values({
            device_hash: hash(deviceCode),
            user_code: userCode,
            client_name: clientName,
            status: 'pending',
            user_id: null,
            created_at: now,
            expires_at: expiresAt,
            last_poll_at: null,
          })
          .execute();
        return { deviceCode, userCode, expiresAt };
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  }

  /** The pending request behind a user code, for the approval page. */
  async describe(userCode: string, now: number): Promise<{ clientName: string; expiresAt: number }> {
    const row = await this.#pending(userCode, now);
    return { clientName: row.client_name, expiresAt: Number(row.expires_at) };
  }

  async #pending(userCode: string, now: number) {
    const code = normaliseUserCode(userCode);
    const row = code
      ? await this.#db.selectFrom('device_logins').selectAll().where('user_code', '=', code).executeTakeFirst()
      : undefined;
    if (!row || Number(row.expires_at) <= now || row.status !== 'pending') {
      throw new ApiError(
        'LOGIN_CODE_INVALID',
        `The code ${userCode} is unknown, expired or already used. Run speos-portal login again for a new one.`,
      );
    }
    return row;
  }

  /** Approves (for `userId`) or denies a pending request; compare-and-set, so only one decision counts. */
  async decide(userCode: string, userId: string, approve: boolean, now: number): Promise<void> {
    const row = await this.#pending(userCode, now);
    const result = await this.#db
      .updateTable('device_logins')
      .set({ status: approve ? 'approved' : 'denied', user_id: approve ? userId : null })
      .where('device_hash', '=', row.device_hash)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) {
      throw new ApiError('LOGIN_CODE_INVALID', `The code ${userCode} was already approved or denied.`);
    }
  }

  /** The CLI's poll. Issues the token once: approved → issued is a compare-and-set in one transaction. */
  async poll(deviceCode: string, now: number): Promise<PollResult> {
    const deviceHash = hash(deviceCode);
    const row = await this.#db
      .selectFrom('device_logins')
      .selectAll()
      .where('device_hash', '=', deviceHash)
      .executeTakeFirst();
    if (!row || row.status === 'issued' || Number(row.expires_at) <= now) {
      throw new ApiError(
        'LOGIN_CODE_INVALID',
        'This login request is unknown, expired or already finished. Run speos-portal login again.',
      );
    }
    if (row.status === 'denied') {
      await this.#db.deleteFrom('device_logins').where('device_hash', '=', deviceHash).execute();
      throw new ApiError('LOGIN_DENIED', 'The sign-in was denied in the browser.');
    }
    if (row.status === 'pending') {
      const last = row.last_poll_at === null ? null : Number(row.last_poll_at);
      await this.#db
        .updateTable('device_logins')
        .set({ last_poll_at: now })
        .where('device_hash', '=', deviceHash)
        .execute();
      // Half the interval of tolerance: timers and networks jitter.
      if (last !== null && now - last < (POLL_INTERVAL_SECONDS * 1000) / 2) return { status: 'slow_down' };
      return { status: 'pending' };
    }
    return this.#db.transaction().execute(async (trx) => {
      const moved = await trx
        .updateTable('device_logins')
        .set({ status: 'issued' })
        .where('device_hash', '=', deviceHash)
        .where('status', '=', 'approved')
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) {
        throw new ApiError('LOGIN_CODE_INVALID', 'This login request already received its token.');
      }
      const { row: token, secret } = await createApiToken(trx, {
        userId: row.user_id!,
        name: row.client_name,
        expiresAt: null,
        now,
      });
      return {
        status: 'issued' as const,
        secret,
        tokenId: token.token_id,
        name: token.name,
        expiresAt: token.expires_at,
        userId: row.user_id!,
      };
    });
  }
}
