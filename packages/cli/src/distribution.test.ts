/**
 * The CLI as a workstation gets it: `npm run package:cli -- --tarball-only` packs one bundled file
 * with no dependencies; installed into an empty folder it runs `npx speos-portal --help` and an
 * upload against a real portal, with nothing else from this repository. (The full upload and
 * tasks tests run against the installed tarball and the Linux executable in
 * scripts/test-cli-dist.mjs, a CI step of its own.)
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MIB } from '@speos-portal/protocol';
import { md5File, md5Stored, writeRandomFile } from '@speos-portal/test-support/files.js';
import { startTestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from './version.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI_PACKAGE = JSON.parse(await readFile(path.join(ROOT, 'packages/cli/package.json'), 'utf8'));

let dir: string;
let installDir: string;
let tarball: string;
beforeAll(async () => {
  dir = await tempDir('speos-cli-dist-');
  const out = path.join(dir, 'out');
  await run(process.execPath, [path.join(ROOT, 'scripts/package-cli.mjs'), '--tarball-only', '--out', out]);
  tarball = path.join(out, 'speos-portal-cli.tgz');
  installDir = path.join(dir, 'workstation');
  await run('mkdir', ['-p', installDir]);
  // --offline: the tarball must need nothing from a registry.
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', tarball], {
    cwd: installDir,
  });
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `npx speos-portal …` in the install folder, with no saved login or state of the developer's. */
function npx(args: string[], env: Record<string, string> = {}) {
  return run('npx', ['--offline', 'speos-portal', ...args], {
    cwd: installDir,
    env: {
      ...process.env,
      SPEOS_PORTAL_URL: '',
      SPEOS_PORTAL_TOKEN: '',
      SPEOS_PORTAL_CONFIG: path.join(dir, 'config.json'),
      SPEOS_PORTAL_STATE_DIR: path.join(dir, 'state'),
      ...env,
    },
  });
}

describe('the CLI tarball', () => {
  it('installs alone: one package, no dependencies, nothing of the server', async () => {
    const installed = (await readdir(path.join(installDir, 'node_modules'))).filter((name) => !name.startsWith('.'));
    expect(installed).toEqual(['@speos-portal']);
    expect(await readdir(path.join(installDir, 'node_modules/@speos-portal'))).toEqual(['cli']);
    const manifest = JSON.parse(
      await readFile(path.join(installDir, 'node_modules/@speos-portal/cli/package.json'), 'utf8'),
    );
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.version).toBe(CLI_PACKAGE.version);
    const bundle = await readFile(path.join(installDir, 'node_modules/@speos-portal/cli/bin/speos-portal.mjs'), 'utf8');
    expect(bundle).not.toMatch(/fastify|kysely|@aws-sdk/);
  });

  it('runs: --help, --version, and serve says it belongs to the server', async () => {
    const help = await npx(['--help']);
    expect(help.stdout).toMatch(/^Usage: speos-portal <command>/);
    expect((await npx(['--version'])).stdout).toBe(`${CLI_PACKAGE.version}\n`);
    const serve = await npx(['serve']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(serve?.code).toBe(2);
    expect(serve?.stderr).toContain('speos-portal serve: this command belongs to the portal server');
  });

  it('uploads a model to a real portal and submits the job', async () => {
    const portal = await startTestPortal();
    try {
      const file = path.join(dir, 'lamp.speos');
      await writeRandomFile(file, 2 * 5 * MIB + 123);
      const { stdout } = await npx(['upload', file, '--job-name', '前照灯', '--json'], {
        SPEOS_PORTAL_URL: portal.url,
      });
      const result = JSON.parse(stdout) as { task_id: string; status: string };
      expect(result.status).toBe('PENDING');
      expect(await md5Stored(portal.url, result.task_id)).toBe(await md5File(file));
      const list = await npx(['tasks', 'list', '--json'], { SPEOS_PORTAL_URL: portal.url });
      const tasks = JSON.parse(list.stdout) as { items: { task_id: string; job_name: string }[] };
      expect(tasks.items.find((t) => t.task_id === result.task_id)?.job_name).toBe('前照灯');
    } finally {
      await portal.close();
    }
  });

  it('reports the version of packages/cli/package.json', () => {
    expect(VERSION).toBe(CLI_PACKAGE.version);
  });
});
