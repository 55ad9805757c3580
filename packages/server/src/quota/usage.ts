/**
 * Stored bytes per user (USER_QUOTA_BYTES): every upload that holds data (UPLOADING counts
 * at its full size — its parts are on the way — and COMPLETED), plus the result files of
 * the user's tasks whose files retention has not deleted. Solver logs live in the database
 * and are not counted. With auth off every task has the owner null: one shared quota.
 */
import { ApiError } from '@speos-portal/protocol';
import { type Kysely, sql, type Transaction } from 'kysely';
import { isPostgres } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import type { Owner } from '../tasks/repository.js';

type Executor = Kysely<Database> | Transaction<Database>;

/** Upload statuses whose bytes are (or are about to be) in storage. */
export const HOLDING_STATUSES = ['UPLOADING', 'COMPLETED'];

export async function storedBytes(db: Executor, owner: Owner): Promise<number> {
  let uploads = db
    .selectFrom('uploads')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('file_size'), sql<number>`0`).as('n'))
    .where('status', 'in', HOLDING_STATUSES);
  uploads = owner === null ? uploads.where('owner', 'is', null) : uploads.where('owner', '=', owner);
  let outputs = db
    .selectFrom('task_outputs')
    .innerJoin('tasks', 'tasks.task_id', 'task_outputs.task_id')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('task_outputs.size'), sql<number>`0`).as('n'))
    .where('tasks.files_expired_at', 'is', null);
  outputs = owner === null ? outputs.where('tasks.owner', 'is', null) : outputs.where('tasks.owner', '=', owner);
  const [a, b] = await Promise.all([uploads.executeTakeFirst(), outputs.executeTakeFirst()]);
  return Number(a?.n ?? 0) + Number(b?.n ?? 0);
}

/** Every owner's stored bytes (owners with nothing stored are left out), largest first. */
export async function storedBytesByOwner(db: Executor): Promise<{ owner: Owner; used_bytes: number }[]> {
  const uploads = await db
    .selectFrom('uploads')
    .select(['owner', (eb) => eb.fn.sum<number>('file_size').as('n')])
    .where('status', 'in', HOLDING_STATUSES)
    .groupBy('owner')
    .execute();
  const outputs = await db
    .selectFrom('task_outputs')
    .innerJoin('tasks', 'tasks.task_id', 'task_outputs.task_id')
    .select(['tasks.owner as owner', (eb) => eb.fn.sum<number>('task_outputs.size').as('n')])
    .where('tasks.files_expired_at', 'is', null)
    .groupBy('tasks.owner')
    .execute();
  const totals = new Map<Owner, number>();
  for (const row of [...uploads, ...outputs]) totals.set(row.owner, (totals.get(row.owner) ?? 0) + Number(row.n ?? 0));
  return [...totals]
    .filter(([, n]) => n > 0)
    .map(([owner, used_bytes]) => ({ owner, used_bytes }))
    .sort((a, b) => b.used_bytes - a.used_bytes);
}

/** 1.5 GiB, 300 MiB, 12 KiB, 900 B. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 10 ? 0 : 1)} ${units[unit]}`;
}

export function quotaExceeded(used: number, adding: number, quota: number): ApiError {
  return new ApiError(
    'QUOTA_EXCEEDED',
    `Storing ${formatBytes(adding)} more would exceed your storage quota: you use ${formatBytes(used)} (${used} bytes) of ${formatBytes(quota)} (${quota} bytes, USER_QUOTA_BYTES). Delete finished tasks you no longer need (their inputs and results are freed), abort unfinished uploads, or ask the operator for a larger quota.`,
    { used_bytes: used, quota_bytes: quota, requested_bytes: adding },
  );
}

/** Before anything is stored: refuses when `adding` more bytes would not fit. */
export async function checkQuota(db: Executor, owner: Owner, quota: number | undefined, adding: number) {
  if (quota === undefined) return;
  const used = await storedBytes(db, owner);
  if (used + adding > quota) throw quotaExceeded(used, adding, quota);
}

/**
 * Inside the transaction that records new stored bytes, before it does: takes the owner's
 * lock (PostgreSQL; SQLite runs one transaction at a time anyway), so two concurrent inits
 * cannot each fit alone and together exceed the quota.
 */
export async function reserveQuota(
  trx: Transaction<Database>,
  owner: Owner,
  quota: number | undefined,
  adding: number,
) {
  if (quota === undefined) return;
  if (isPostgres(trx)) {
    await sql`select pg_advisory_xact_lock(hashtext(${`speos-quota:${owner ?? ''}`}))`.execute(trx);
  }
  await checkQuota(trx, owner, quota, adding);
}
