/**
 * People who signed in with the OpenID provider. A user is issuer + `sub` (the provider's
 * stable id); name, email and groups are refreshed from the claims at every sign-in.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db/connect.js';
import type { UserRow } from '../db/schema.js';
import type { AuthConfig } from './config.js';

/**
 * The owner id stored on tasks and uploads: `oidc:` + 128 bits of sha256(issuer, sub).
 * Deterministic, so two first sign-ins at once agree, and it fits tasks.owner (100 chars)
 * whatever the length of the provider's subjects.
 */
export function userIdFor(issuer: string, subject: string): string {
  return `oidc:${createHash('sha256').update(`${issuer}\n${subject}`).digest('hex').slice(0, 32)}`;
}

export interface Claims {
  issuer: string;
  subject: string;
  name: string | null;
  email: string | null;
  groups: string[];
}

export async function upsertUser(db: Db, claims: Claims, now: number): Promise<UserRow> {
  const user_id = userIdFor(claims.issuer, claims.subject);
  const fields = {
    name: claims.name?.slice(0, 255) ?? null,
    email: claims.email?.slice(0, 320) ?? null,
    groups: JSON.stringify(claims.groups),
    last_login_at: now,
  };
  await db
    .insertInto('users')
    .values({ user_id, issuer: claims.issuer, subject: claims.subject, created_at: now, ...fields })
    .onConflict((oc) => oc.column('user_id').doUpdateSet(fields))
    .execute();
  return (await findUser(db, user_id))!;
}

export async function findUser(db: Db, userId: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/** Display names and emails of the given owners (those who are users; AUTH_TOKENS names are their own display). */
export async function usersById(db: Db, ids: string[]): Promise<Map<string, UserRow>> {
  const wanted = [...new Set(ids)].filter((id) => id.startsWith('oidc:'));
  if (wanted.length === 0) return new Map();
  const rows = await db.selectFrom('users').selectAll().where('user_id', 'in', wanted).execute();
  return new Map(rows.map((r) => [r.user_id, r]));
}

export function userGroups(user: UserRow): string[] {
  try {
    const parsed = JSON.parse(user.groups) as unknown;
    return Array.isArray(parsed) ? parsed.filter((g): g is string => typeof g === 'string') : [];
  } catch {
    return [];
  }
}

/** ADMIN_USERS lists emails (any case), subjects or AUTH_TOKENS names; OIDC_ADMIN_GROUPS groups. */
export function isAdmin(
  config: AuthConfig,
  who: { email?: string | null; subject?: string; name?: string; groups?: string[] },
): boolean {
  const email = who.email?.toLowerCase();
  for (const entry of config.adminUsers) {
    if (email && entry.toLowerCase() === email) return true;
    if (who.subject !== undefined && entry === who.subject) return true;
    if (who.name !== undefined && entry === who.name) return true;
  }
  const adminGroups = config.oidc?.adminGroups ?? [];
  return (who.groups ?? []).some((g) => adminGroups.includes(g));
}
