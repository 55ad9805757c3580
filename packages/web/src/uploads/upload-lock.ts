/**
 * One tab per task: a Web Lock named `speos-upload-<task_id>` is held while a tab uploads that
 * task, so a second tab (or a reload racing the first) cannot send the same parts at once.
 * Browsers without the Web Locks API get a no-op lock (they upload as before, unguarded).
 */
const lockName = (taskId: string) => `speos-upload-${taskId}`;

export type ReleaseLock = () => void;

/** Takes the task's lock if nobody holds it; resolves to its release function, or null when another tab has it. */
export function tryLockUpload(taskId: string): Promise<ReleaseLock | null> {
  const locks = globalThis.navigator?.locks;
  if (!locks) return Promise.resolve(() => {});
  return new Promise((resolve) => {
    locks
      .request(lockName(taskId), { ifAvailable: true }, (lock) => {
        if (!lock) {
          resolve(null);
          return undefined;
        }
        // The lock lasts as long as this promise is pending: until the caller releases it.
        return new Promise<void>((release) => resolve(release));
      })
      .catch(() => resolve(() => {}));
  });
}

/** Task ids whose upload lock some tab (this one included) holds right now. */
export async function lockedUploads(): Promise<Set<string>> {
  const locks = globalThis.navigator?.locks;
  const held = new Set<string>();
  if (!locks) return held;
  try {
    const { held: list = [] } = await locks.query();
    for (const lock of list) {
      if (lock.name?.startsWith('speos-upload-')) held.add(lock.name.slice('speos-upload-'.length));
    }
  } catch {
    // No Web Locks query (older browsers): no tab is known to hold a lock.
  }
  return held;
}
