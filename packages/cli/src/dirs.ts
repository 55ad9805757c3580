/**
 * Where the CLI keeps its files, by each OS's conventions (env-paths):
 *
 * |        | upload state (resume)                         | config.json (login)                           |
 * | ------ | --------------------------------------------- | --------------------------------------------- |
 * | Linux  | `$XDG_STATE_HOME/speos-portal`                | `$XDG_CONFIG_HOME/speos-portal`               |
 * | macOS  | `~/Library/Application Support/speos-portal`  | `~/Library/Preferences/speos-portal`          |
 * | Windows| `%LOCALAPPDATA%\speos-portal\Data`            | `%APPDATA%\speos-portal\Config`               |
 *
 * `SPEOS_PORTAL_STATE_DIR` / `SPEOS_PORTAL_CONFIG` override them. Versions up to 0.1 used the
 * Linux places on every OS; `migrateLegacyState` and `migrateLegacyConfig` move what is there, so
 * an upload interrupted before an update still resumes after it.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import envPaths from 'env-paths';

type Env = Record<string, string | undefined>;

const APP = 'speos-portal';

export interface CliDirs {
  /** Saved upload states, one `upload_<task_id>.json` each. */
  state: string;
  /** The config file written by `login`. */
  configFile: string;
}

/**
 * This OS's directories. env-paths reads the platform and XDG variables of this process; `env`
 * supplies the SPEOS_PORTAL_* overrides (resolved against the working directory).
 */
export function cliDirs(env: Env = process.env): CliDirs {
  // No "-nodejs" suffix: these folders belong to speos-portal, not to a Node.js program of that name.
  const paths = envPaths(APP, { suffix: '' });
  // env-paths has no "state" folder: on Linux its `log` is $XDG_STATE_HOME/<app> (where 0.1 put
  // uploads); elsewhere it points at a logs folder, so the per-user data folder serves instead.
  const state = process.platform === 'darwin' || process.platform === 'win32' ? paths.data : paths.log;
  return {
    state: env.SPEOS_PORTAL_STATE_DIR ? path.resolve(env.SPEOS_PORTAL_STATE_DIR) : state,
    configFile: env.SPEOS_PORTAL_CONFIG
      ? path.resolve(env.SPEOS_PORTAL_CONFIG)
      : path.join(paths.config, 'config.json'),
  };
}

/** Where 0.1 kept upload states on every OS: `$XDG_STATE_HOME/speos-portal`, else `~/.local/state/speos-portal`. */
export function legacyStateDir(env: Env = process.env): string {
  return path.join(env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), APP);
}

/** Where 0.1 kept the config file: `$XDG_CONFIG_HOME/speos-portal/config.json`, else under `~/.config`. */
export function legacyConfigFile(env: Env = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), APP, 'config.json');
}

/**
 * Moves a file unless the target exists (a newer state, or another run got there first). A
 * rename is atomic: a crash leaves the file in one place or the other, whole. Across file systems
 * (another drive) it is copied beside the target and renamed into place, then the source removed.
 */
async function moveIfAbsent(from: string, to: string): Promise<boolean> {
  await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
  if (await exists(to)) return false;
  try {
    await rename(from, to);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false; // another run moved it
    if (code !== 'EXDEV') throw error;
  }
  const temporary = `${to}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await copyFile(from, temporary);
    await rename(temporary, to);
  } catch (error) {
    await rm(temporary, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  await rm(from, { force: true });
  return true;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Moves saved upload states from the 0.1 folder into `target` (when they differ); returns how
 * many moved. States already in `target` win. The old folder goes when it is left empty.
 */
export async function migrateLegacyState(target: string, legacy: string = legacyStateDir()): Promise<number> {
  if (path.resolve(legacy) === path.resolve(target)) return 0;
  let names: string[];
  try {
    names = await readdir(legacy);
  } catch {
    return 0; // nothing there: the usual case
  }
  let moved = 0;
  for (const name of names.filter((n) => /^upload_[\w-]+\.json$/.test(n))) {
    if (await moveIfAbsent(path.join(legacy, name), path.join(target, name))) moved++;
  }
  // Half-written saves of a run killed mid-write (name.json.PID.N.tmp) are never a state:
  // drop those whose process is gone, so the old folder can go.
  for (const name of names) {
    const writer = /^upload_[\w-]+\.json\.(\d+)\.\d+\.tmp$/.exec(name);
    if (writer && !processAlive(Number(writer[1]))) await rm(path.join(legacy, name), { force: true });
  }
  await rmdir(legacy).catch(() => {}); // only if empty
  return moved;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether it exists
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, someone else's
  }
}

/** Moves the 0.1 config file to `target` unless one is there already; true if it moved. */
export async function migrateLegacyConfig(target: string, legacy: string = legacyConfigFile()): Promise<boolean> {
  if (path.resolve(legacy) === path.resolve(target)) return false;
  if (!(await exists(legacy))) return false;
  const moved = await moveIfAbsent(legacy, target);
  if (moved) await rmdir(path.dirname(legacy)).catch(() => {});
  return moved;
}

/**
 * The upload state folder, after moving 0.1's saved uploads into it (unless SPEOS_PORTAL_STATE_DIR
 * chooses one). A failed move is reported through `warn` and the upload goes on.
 */
export async function uploadStateDir(warn: (line: string) => void, env: Env = process.env): Promise<string> {
  const { state } = cliDirs(env);
  if (env.SPEOS_PORTAL_STATE_DIR) return state;
  const legacy = legacyStateDir(env);
  try {
    const moved = await migrateLegacyState(state, legacy);
    if (moved > 0) warn(`moved ${moved} saved upload${moved === 1 ? '' : 's'} from ${legacy} to ${state}`);
  } catch (error) {
    warn(`could not move saved uploads from ${legacy} to ${state}: ${(error as Error).message}`);
  }
  return state;
}
