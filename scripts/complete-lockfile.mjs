#!/usr/bin/env node
// Adds the lock entries npm leaves out when the registry it used lacks other platforms'
// optional binaries (this machine's registry answers 404 for e.g. @biomejs/cli-darwin-arm64).
// Without them `npm ci` refuses the lock ("Missing: … from lock file") here and on any
// machine that can see those packages. Run after every `npm install`:
//   node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;

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

let added = 0;
for (const [where, entry] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) continue; // only exact pins are platform binaries
    const base = where === '' ? 'node_modules' : `${where}/node_modules`;
    const candidates = [`${base}/${name}`, `node_modules/${name}`];
    if (candidates.some((c) => packages[c])) continue;
    const { os, cpu, libc } = platformOf(name);
    if (!os || !cpu) continue;
    packages[`node_modules/${name}`] = {
      version: spec,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [os],
      cpu: [cpu],
      ...(libc ? { libc: [libc] } : {}),
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} optional platform entries`);
