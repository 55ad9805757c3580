/**
 * Real archivers for tests: Info-ZIP `zip`, GNU `tar`, `gzip`, `bzip2`, `xz` and Debian's
 * 7-Zip (`7zz`, package 7zip) make the archives at test time, as users' tools would.
 * `.ci/run` installs them; a test that needs a missing one is skipped with a message
 * naming the Debian package. RAR has no free creator: see fixtures/README.md.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Tool → the Debian package that provides it. */
export const TOOLS = {
  zip: 'zip',
  unzip: 'unzip',
  tar: 'tar',
  gzip: 'gzip',
  bzip2: 'bzip2',
  xz: 'xz-utils',
  '7zz': '7zip',
} as const;
export type Tool = keyof typeof TOOLS;

export function hasTool(tool: Tool): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The tools that are missing, as a skip message (empty when all are there). */
export function missingTools(...tools: Tool[]): string {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return '';
  const packages = [...new Set(missing.map((t) => TOOLS[t]))].join(' ');
  return `needs ${missing.join(', ')} (apt-get install ${packages}; .ci/run installs them)`;
}

/** Runs a tool in `cwd`; the C locale keeps names as the bytes on disk. */
export async function run(cwd: string, command: string, args: string[], env: Record<string, string> = {}) {
  return exec(command, args, { cwd, env: { ...process.env, LC_ALL: 'C.UTF-8', ...env }, maxBuffer: 16 * 1024 * 1024 });
}

/** Writes files (relative path → content) under `dir`. */
export async function writeTree(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const full = path.join(dir, ...name.split('/'));
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content);
  }
}

/** Committed RAR archives (no RAR creator is free to install). */
export const RAR_FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
