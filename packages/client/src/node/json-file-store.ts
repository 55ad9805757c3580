/** Node state store: one JSON file per upload in a per-user state directory, written atomically. */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isSavedUpload, type SavedUpload, type StateStore } from '../state-store.js';

/**
 * `$SPEOS_PORTAL_STATE_DIR`, else `$XDG_STATE_HOME/speos-portal`, else `~/.local/state/speos-portal`
 * (XDG Base Directory spec: state that should survive restarts but is not user data).
 */
export function defaultStateDir(env: Record<string, string | undefined> = process.env): string {
  if (env.SPEOS_PORTAL_STATE_DIR) return path.resolve(env.SPEOS_PORTAL_STATE_DIR);
  const base = env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'speos-portal');
}

let tempCounter = 0;

export class JsonFileStateStore implements StateStore {
  readonly available = true;
  readonly dir: string;
  /** Saves of one upload run in order, so an older state can never be renamed over a newer one. */
  readonly #queues = new Map<string, Promise<void>>();

  /** @param dir defaults to `defaultStateDir()`. */
  constructor(dir: string = defaultStateDir()) {
    this.dir = dir;
  }

  /** The file holding one upload's state: `upload_<task_id>.json`, like the browser key. */
  fileFor(taskId: string): string {
    if (!/^[\w-]+$/.test(taskId)) throw new Error(`not a task id: ${taskId}`);
    return path.join(this.dir, `upload_${taskId}.json`);
  }

  async load(taskId: string): Promise<SavedUpload | undefined> {
    await this.#queues.get(taskId);
    return this.#read(this.fileFor(taskId));
  }

  save(state: SavedUpload): Promise<void> {
    const file = this.fileFor(state.task_id);
    const body = `${JSON.stringify(state, null, 2)}\n`;
    const previous = this.#queues.get(state.task_id) ?? Promise.resolve();
    const next = previous.then(async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      // Temp file + rename: a crash leaves either the old or the new state, never half a file.
      const temp = `${file}.${process.pid}.${++tempCounter}.tmp`;
      try {
        await writeFile(temp, body, { mode: 0o600 });
        await rename(temp, file);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    });
    // Only orders the next write after this one; this write's own error reached its caller above.
    const settled = next.catch(() => {});
    this.#queues.set(state.task_id, settled);
    void settled.then(() => {
      if (this.#queues.get(state.task_id) === settled) this.#queues.delete(state.task_id);
    });
    return next;
  }

  async remove(taskId: string): Promise<void> {
    await this.#queues.get(taskId);
    await rm(this.fileFor(taskId), { force: true });
  }

  async all(): Promise<SavedUpload[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const states = await Promise.all(
      names.filter((n) => /^upload_[\w-]+\.json$/.test(n)).map((n) => this.#read(path.join(this.dir, n))),
    );
    return states.filter((s): s is SavedUpload => s !== undefined);
  }

  async #read(file: string): Promise<SavedUpload | undefined> {
    try {
      const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
      return isSavedUpload(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
}
