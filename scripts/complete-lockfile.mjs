#!/usr/bin/env node
// Adds the lock entries npm leaves out when the registry it used lacks other platforms'
// optional binaries (this machine's registry answers 404 for e.g. @biomejs/cli-darwin-arm64).
// Without them `npm ci` refuses the lock ("Missing: … from lock file") here and on any
// machine that can see those packages. Run after every `npm install`:
//   node scripts/complete-lockfile.mjs
// Nobody has to remember it: test/lockfile.test.ts (in npm test) fails, naming this command,
// when the committed lock lacks an entry (`--check` does the same without writing).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** os / cpu / libc from a platform package's name, e.g. cli-linux-x64-musl. */
function platformOf(name) {
  const tail = name.split('/').pop();
  const os = [
    'android',
    'darwin',
    'freebsd',
    'openbsd',
    'netbsd',
    'sunos',
    'aix',
    'openharmony',
    'win32',
    'linux',
  ].find((o) => tail.includes(o));
  const cpus = ['arm64', 'x64', 'ia32', 'arm', 'loong64', 'ppc64', 'riscv64', 's390x', 'mips64el'];
  const cpu = cpus.find((c) =>
    new RegExp(`(^|-)${c}(-|$)`).test(tail.replace(/-(gnu|musl|msvc|eabihf|eabi|gnueabihf|musleabihf)/g, '')),
  );
  const libc = tail.includes('musl') ? 'musl' : tail.includes('gnu') ? 'glibc' : undefined;
  return { os, cpu: cpu ?? (tail.includes('arm-') ? 'arm' : undefined), libc };
}

/** The entries `lock` lacks: platform binaries pinned as optional dependencies, keyed by lock path. */
export function missingPlatformEntries(lock) {
  const packages = lock.packages;
  const missing = {};
  for (const [where, entry] of Object.entries(packages)) {
    for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
      if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) continue; // only exact pins are platform binaries
      const base = where === '' ? 'node_modules' : `${where}/node_modules`;
      const candidates = [`${base}/${name}`, `node_modules/${name}`];
      if (candidates.some((c) => packages[c] || missing[c])) continue;
      const { os, cpu, libc } = platformOf(name);
      if (!os || !cpu) continue;
      missing[`node_modules/${name}`] = {
        version: spec,
        ...(entry.dev ? { dev: true } : {}),
        optional: true,
        os: [os],
        cpu: [cpu],
        ...(libc ? { libc: [libc] } : {}),
      };
    }
  }
  return missing;
}

export const LOCK_FILE = fileURLToPath(new URL('../package-lock.json', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const lock = JSON.parse(readFileSync(LOCK_FILE, 'utf8'));
  const missing = missingPlatformEntries(lock);
  const count = Object.keys(missing).length;
  if (process.argv.includes('--check')) {
    if (count > 0) {
      console.error(
        `complete-lockfile: ${count} entries missing (${Object.keys(missing).join(', ')}); run node scripts/complete-lockfile.mjs`,
      );
      process.exit(1);
    }
  } else if (count > 0) {
    // Only when something was added: otherwise npm's own order stays as npm wrote it.
    lock.packages = Object.fromEntries(
      Object.entries({ ...lock.packages, ...missing }).sort(([a], [b]) =>
        a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1,
      ),
    );
    writeFileSync(LOCK_FILE, `${JSON.stringify(lock, null, 2)}\n`);
  }
  console.log(
    `complete-lockfile: ${count} optional platform entries ${process.argv.includes('--check') ? 'missing' : 'added'}`,
  );
}
