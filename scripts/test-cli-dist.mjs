#!/usr/bin/env node
// `npm run test:cli-dist` (CI runs it after `npm test`): the CLI's upload (resume after SIGKILL
// included) and tasks tests against a real portal, run by the forms people install instead of
// the repository's build: the npm tarball installed into an empty folder, and the Linux single
// executable. Expects `npm run package:cli -- --targets linux-x64` (or all targets) first.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(ROOT, 'dist/cli');
const TESTS = ['packages/cli/src/commands/upload.test.ts', 'packages/cli/src/commands/tasks.test.ts'];

const tarball = path.join(DIST, 'speos-portal-cli.tgz');
const linux = path.join(DIST, 'speos-portal-linux-x64');
for (const file of [tarball, linux]) {
  if (!existsSync(file)) {
    console.error(`${path.relative(ROOT, file)} is missing: run npm run package:cli first`);
    process.exit(2);
  }
}

// Nothing from the repository: an empty folder, the tarball, no registry (it has no dependencies).
const folder = await mkdtemp(path.join(os.tmpdir(), 'speos-cli-install-'));
let failed = false;
try {
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', tarball], {
    cwd: folder,
    stdio: 'inherit',
  });
  const installed = path.join(folder, 'node_modules/@speos-portal/cli/bin/speos-portal.mjs');
  for (const [form, bin] of [
    ['npm tarball, installed', installed],
    ['Linux single executable', linux],
  ]) {
    console.log(`\n== ${form}: ${bin}`);
    const run = spawnSync('npx', ['vitest', 'run', ...TESTS], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, SPEOS_CLI_UNDER_TEST: bin },
    });
    if (run.status !== 0) {
      console.error(`== ${form}: FAILED`);
      failed = true;
    }
  }
} finally {
  await rm(folder, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
