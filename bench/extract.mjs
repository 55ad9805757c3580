#!/usr/bin/env node
// How fast the worker extracts input archives, and how much memory it holds meanwhile
// (never part of npm test). Needs `npm run build` and Debian's zip, tar, xz and 7zz.
//
//   node bench/extract.mjs [--size MiB (500)] [--files N (20)]
//
// Makes one folder of N files totalling --size MiB (half random bytes, half text, as
// result-ish model data compresses), packs it with each tool, then extracts each archive
// with the worker's code, sampling this process's RSS every 20 ms (7-Zip's own memory, in
// its child process, is not included). Prints a markdown table.
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { size: { type: 'string' }, files: { type: 'string' } } });
const SIZE = Number(values.size ?? 500) * 1024 * 1024;
const FILES = Number(values.files ?? 20);

const { extractArchive } = await import('../packages/server/dist/worker/archive/extract.js');
const { SafeTree } = await import('../packages/server/dist/worker/archive/safe-tree.js');

const work = mkdtempSync(path.join(tmpdir(), 'speos-extract-bench-'));
const source = path.join(work, 'model');
mkdirSync(source);
const each = Math.floor(SIZE / FILES);
for (let i = 0; i < FILES; i++) {
  const data = Buffer.alloc(each);
  randomFillSync(data, 0, each >> 1);
  data.fill('illuminance 0.000 lux\n', each >> 1);
  writeFileSync(path.join(source, `part-${i}.bin`), data);
}

const archives = [
  ['inputs.zip', 'zip', ['-r', '-q', '-1']],
  ['inputs.7z', '7zz', ['a', '-bd', '-mx1']],
  ['inputs.tar', 'tar', ['-cf']],
  ['inputs.tar.gz', 'tar', ['-czf']],
  ['inputs.tar.xz', 'xz', []], // tar piped through xz -1 (fast level), below
];
const settings = { maxRatio: 1000, maxEntries: 100_000, zipFilenameEncoding: 'auto' };
const rows = [];
for (const [name, tool, args] of archives) {
  const file = path.join(work, name);
  if (name.endsWith('.tar.xz')) execFileSync('sh', ['-c', `tar -cf - . | xz -T2 -1 > ${file}`], { cwd: source });
  else execFileSync(tool, [...args, file, '.'], { cwd: source });
  const into = path.join(work, `out-${name}`);
  mkdirSync(into);
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const started = process.hrtime.bigint();
  await extractArchive(file, new SafeTree(into), name, settings);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  rows.push({
    name,
    archiveMiB: statSync(file).size / 1048576,
    seconds,
    mibPerS: SIZE / 1048576 / seconds,
    rssBase: base / 1048576,
    rssPeak: peak / 1048576,
  });
  rmSync(into, { recursive: true, force: true });
  rmSync(file);
}
rmSync(work, { recursive: true, force: true });

console.log(`\nExtracting ${SIZE / 1048576} MiB in ${FILES} files:\n`);
console.log('| archive | archive size | seconds | MiB/s (extracted) | RSS before → peak |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.archiveMiB.toFixed(0)} MiB | ${r.seconds.toFixed(1)} | ${r.mibPerS.toFixed(0)} | ${r.rssBase.toFixed(0)} → ${r.rssPeak.toFixed(0)} MiB |`,
  );
}
