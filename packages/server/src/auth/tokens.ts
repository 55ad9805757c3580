/**
 * Personal API tokens: `spt_` + 40 random base62 characters (238 bits). Only a sha256 of
 * each is stored (fine for secrets this long: nothing to brute-force), and the token is
 * shown once, when created. The prefix lets secret scanners recognise a leaked one.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ApiError } from '@speos-portal/protocol';
import type { Kysely, Transaction } from 'kysely';
import type { ApiTokenRow, Database, UserRow } from '../db/schema.js';

export const TOKEN_PREFIX = 'spt_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** A person's limit, so a loop in a script cannot fill the table. */
export const MAX_TOKENS_PER_USER = 100;
/** last_used_at is written at most this often per token: a busy script must not write on every call. */
const LAST_USED_RESOLUTION_MS = 60_000;

type Executor = Kysely<Database> | Transaction<Database>;

/** Uniform base62 by rejection sampling (bytes ≥ 248 are dropped, so no character is likelier). */
export function newTokenSecret(): string {
  let out = '';
  while (out.length < 40) {
    for (const byte of randomBytes(48)) {
      if (byte < 248 && out.length < 40) out += ALPHABET[byte % 62];
    }
  }
  return TOKEN_PREFIX + out;
}

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export function looksLikeApiToken(secret: string): boolean {
  return /^spt_[0-9A-Za-z]{40}$/.test(secret);
}

export async function createApiToken(
  db: Executor,
  fields: { userId: string; name: string; expiresAt: number | null; now: number },
): Promise<{ row: ApiTokenRow; secret: string }> {
  const count = await db
    .selectFrom('api_tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', fields.userId)
    .executeTakeFirst();
  if (Number(count?.n ?? 0) >= MAX_TOKENS_PER_USER) {
    throw new ApiError(
      'INVALID_STATE',
      `You already have ${MAX_TOKENS_PER_USER} API tokens; revoke ones you no longer use first.`,
    );
  }
  const secret = newTokenSecret();
  const row: ApiTokenRow = {
    token_id: randomUUID(),
    user_id: fields.userId,
    name: fields.name,
    token_hash: hashSecret(secret),
    hint: `${secret.slice(0, 8)}…${secret.slice(-4)}`,
    created_at: fields.now,
    last_used_at: null,
    expires_at: fields.expiresAt,
  };
  await db.insertInto('api_tokens').values(row).execute();
  return { row, secret };
}

export async function listApiTokens(db: Executor, userId: string): Promise<ApiTokenRow[]> {
  return db
    .selectFrom('api_tokens')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('token_id')
    .execute();
}

/** Deletes one of the user's tokens; false when there is none with that id (or it is another's). */
export async function revokeApiToken(db: Executor, userId: string, tokenId: string): Promise<boolean> {
  const result = await db
    .deleteFrom('api_tokens')
    .where('token_id', '=', tokenId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The token and its user, when the secret is known and not expired. */
export async function findApiToken(
  db: Executor,
  secret: string,
  now: number,
): Promise<{ token: ApiTokenRow; user: UserRow } | undefined> {
  if (!looksLikeApiToken(secret)) return undefined;
  const row = await db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.user_id', 'api_tokens.user_id')
    .selectAll('api_tokens')
    .select([
      'users.issuer',
      'users.subject',
      'users.name as user_name',
      'users.email',
      'users.groups',
      'users.created_at as user_created_at',
      'users.last_login_at',
    ])
    .where('token_hash', '=', hashSecret(secret))
    .executeTakeFirst();
  if (!row) return undefined;
  if (row.expires_at !== null && Number(row.expires_at) <= now) return undefined;
  const token: ApiTokenRow = {
    token_id: row.token_id,
    user_id: row.user_id,
    name: row.name,
    token_hash: row.token_hash,
    hint: row.hint,
    created_at: Number(row.created_at),
    last_used_at: row.last_used_at === null ? null : Number(row.last_used_at),
    expires_at: row.expires_at === null ? null : Number(row.expires_at),
  };
  const user: UserRow = {
    user_id: row.user_id,
    issuer: row.issuer,
    subject: row.subject,
    name: row.user_name,
    email: row.email,
    groups: row.groups,
    created_at: Number(row.user_created_at),
    last_login_at: Number(row.last_login_at),
  };
  if (token.last_used_at === null || now - token.last_used_at >= LAST_USED_RESOLUTION_MS) {
    await db.updateTable('api_tokens').set({ last_used_at: now }).where('token_id', '=', token.token_id).execute();
    token.last_used_at = now;
  }
  return { token, user };
}
