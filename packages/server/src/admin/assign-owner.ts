/**
 * `speos-portal admin assign-owner`: gives tasks without an owner (submitted before
 * AUTH_TOKENS or sign-in was turned on, which every user's view then hides) to one
 * person, straight in the database the server uses. Only ownerless tasks change: a task
 * someone owns is never moved to someone else.
 */
import { ConfigError, loadConfig } from '../config.js';
import { type Db, openDatabase } from '../db/connect.js';

export const ASSIGN_OWNER_USAGE = `Usage: speos-portal admin assign-owner --owner WHO (--unowned | TASK_ID...)

Gives tasks that have no owner — submitted before AUTH_TOKENS or company sign-in was
turned on, and so hidden from every user — to one person. Tasks someone owns are left alone.

  --owner WHO   an AUTH_TOKENS user name, or a signed-in person's email or id
                (as GET /admin/owners lists them)
  --unowned     every task without an owner; else only the TASK_IDs given
  --dry-run     say how many tasks would change, change nothing

Reads DATABASE_URL / DATA_DIR like the server (run it where the server runs).`;

/** The owner id WHO names: a signed-in person's id (by id or email), else WHO itself (an AUTH_TOKENS name). */
export async function resolveOwner(db: Db, who: string): Promise<string> {
  const user = await db
    .selectFrom('users')
    .select('user_id')
    .where((eb) => eb.or([eb('user_id', '=', who), eb(eb.fn('lower', ['email']), '=', who.toLowerCase())]))
    .executeTakeFirst();
  return user?.user_id ?? who;
}

/** Sets the owner of ownerless tasks (all, or those listed) and of their uploads; returns the task count. */
export async function assignOwner(
  db: Db,
  owner: string,
  which: { taskIds: string[] } | 'unowned',
  options: { dryRun?: boolean } = {},
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    let pick = trx.selectFrom('tasks').select('task_id').where('owner', 'is', null);
    if (which !== 'unowned') pick = pick.where('task_id', 'in', which.taskIds.length > 0 ? which.taskIds : ['']);
    const ids = (await pick.execute()).map((r) => r.task_id);
    if (ids.length === 0 || options.dryRun) return ids.length;
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500);
      await trx.updateTable('tasks').set({ owner }).where('owner', 'is', null).where('task_id', 'in', batch).execute();
      await trx
        .updateTable('uploads')
        .set({ owner })
        .where('owner', 'is', null)
        .where('task_id', 'in', batch)
        .execute();
    }
    return ids.length;
  });
}

/** The command itself: exit 0 with a line saying what changed, 2 on a usage mistake. */
export async function runAdmin(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '-h' || sub === '--help' || rest.includes('--help') || rest.includes('-h')) {
    console.log(ASSIGN_OWNER_USAGE);
    return 0;
  }
  if (sub !== 'assign-owner') {
    console.error(`speos-portal admin: unknown subcommand "${sub}"; use assign-owner\n\n${ASSIGN_OWNER_USAGE}`);
    return 2;
  }
  let owner: string | undefined;
  let unowned = false;
  let dryRun = false;
  const taskIds: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--owner') owner = rest[++i];
    else if (arg.startsWith('--owner=')) owner = arg.slice('--owner='.length);
    else if (arg === '--unowned') unowned = true;
    else if (arg === '--dry-run') dryRun = true;
    else if (arg.startsWith('-')) {
      console.error(`speos-portal admin: unknown option ${arg}\n\n${ASSIGN_OWNER_USAGE}`);
      return 2;
    } else taskIds.push(arg);
  }
  const mistake = !owner?.trim()
    ? '--owner is required'
    : unowned === taskIds.length > 0
      ? 'give either --unowned or TASK_IDs'
      : undefined;
  if (mistake) {
    console.error(`speos-portal admin: ${mistake}\n\n${ASSIGN_OWNER_USAGE}`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`speos-portal admin: bad configuration: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const db = await openDatabase(config.databaseUrl, config.dataDir, {
    sqliteSynchronous: config.sqliteSynchronous,
    waitSeconds: config.databaseWaitSeconds,
  });
  try {
    const id = await resolveOwner(db, owner!.trim());
    const count = await assignOwner(db, id, unowned ? 'unowned' : { taskIds }, { dryRun });
    const tasks = `${count} task${count === 1 ? '' : 's'}`;
    console.log(
      dryRun
        ? `${tasks} without an owner would go to ${id}`
        : `${tasks} without an owner now ${count === 1 ? 'belongs' : 'belong'} to ${id}`,
    );
    return 0;
  } finally {
    await db.destroy();
  }
}
