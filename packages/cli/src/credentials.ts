/**
 * The CLI's config file: the default portal and one API token per portal, written by
 * `speos-portal login` and removed by `logout`. Readable only by the user (0600, in a 0700
 * folder), replaced atomically (temporary file, then rename) so a crash never leaves half a file.
 * `$SPEOS_PORTAL_CONFIG`, else `config.json` in this OS's config folder (dirs.ts).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CliError } from './cli-error.js';
import { cliDirs, legacyConfigFile, migrateLegacyConfig } from './dirs.js';

export interface SavedLogin {
  token: string;
  /** For `logout`'s message and `--json`. */
  user?: string;
  token_id?: string;
}

export interface CliConfig {
  /** The portal used when neither --server nor SPEOS_PORTAL_URL says otherwise. */
  server?: string;
  /** Portal URL (no trailing slash) → its token. */
  logins?: Record<string, SavedLogin>;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return cliDirs(env).configFile;
}

/** `configPath`, after moving a config file of 0.1 (Linux places on every OS) there. */
export async function locateConfig(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = configPath(env);
  if (!env.SPEOS_PORTAL_CONFIG) {
    await migrateLegacyConfig(file, legacyConfigFile(env)).catch((error: Error) => {
      throw new CliError(`cannot move ${legacyConfigFile(env)} to ${file}: ${error.message}`);
    });
  }
  return file;
}

/** The same portal however it was typed: no trailing slash. */
export const serverKey = (url: string): string => url.replace(/\/+$/, '');

export async function readCliConfig(file: string): Promise<CliConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as CliConfig;
  } catch (error) {
    throw new CliError(`${file} is not a valid config file (${(error as Error).message}); fix or delete it`);
  }
}

export async function writeCliConfig(file: string, config: CliConfig): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    // The mode given to open() is reduced by the umask; make it exact.
    await chmod(temporary, 0o600);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new CliError(`cannot write ${file}: ${(error as Error).message}`);
  }
}
