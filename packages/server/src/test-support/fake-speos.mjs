#!/usr/bin/env node
// TEST DOUBLE for the SPEOS solver (SPEOSHPC.x), which cannot be installed on test
// machines. It behaves like the solver where the portal can see it: reads the master
// file given as its first argument, prints progress lines, writes result files next to
// it, and exits with a chosen code — or runs until it is stopped.
//
// The master file is JSON that tells it what to do:
//   {"passes": 3, "delay_ms": 20, "exit": 0, "stderr": "…",
//    "outputs": {"report.html": "<html>…", "sub/result.xmp": "…"},
//    "seeded_outputs": {"big.bin": [size, "seed"]},   (bytes from seeded-bytes.mjs)
//    "log_lines": 0,   (numbered 100-byte lines "LINE <pass>.<n> …" printed each pass)
//    "require": ["materials/glass.txt"], "hang": false, "child": false}
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { seededBytes } from './seeded-bytes.mjs';

const [master, ...rest] = process.argv.slice(2);
console.log(`ARGV ${JSON.stringify(process.argv.slice(2))}`);
const plan = JSON.parse(readFileSync(master, 'utf8'));
if (process.env.FAKE_SPEOS_LEDGER) appendFileSync(process.env.FAKE_SPEOS_LEDGER, `${plan.id ?? master}\n`);
const dir = path.dirname(master);
for (const file of plan.require ?? []) {
  if (!existsSync(path.join(dir, file))) {
    console.error(`ERROR: referenced file not found: ${file}`);
    process.exit(4);
  }
}
const pids = [process.pid];
if (plan.child) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  pids.push(child.pid);
}
console.log(`PIDS ${pids.join(' ')}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const passes = plan.passes ?? 2;
for (let pass = 1; pass <= passes; pass++) {
  await sleep(plan.delay_ms ?? 10);
  for (let n = 1; n <= (plan.log_lines ?? 0); n++) {
    const head = `LINE ${pass}.${n} `;
    console.log(head + '.'.repeat(99 - head.length));
  }
  const percent = Math.round((pass / passes) * 100);
  console.log(`Pass ${pass}/${passes} - ${percent}% done`);
  console.log(`Sensor ${pass} of ${passes}, estimated time remaining: 00:00:${String(passes - pass).padStart(2, '0')}`);
}
if (plan.hang) {
  console.log('simulating forever');
  process.on('SIGTERM', () => {
    console.log('got SIGTERM, exiting');
    process.exit(143);
  });
  setInterval(() => {}, 1000);
} else {
  for (const [name, content] of Object.entries(plan.outputs ?? {})) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  for (const [name, [size, seed]] of Object.entries(plan.seeded_outputs ?? {})) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), seededBytes(size, seed));
  }
  if (plan.stderr) console.error(plan.stderr);
  if (rest.length) console.log(`options ${rest.join(' ')}`);
  // exitCode, not exit(): exit() would drop output still buffered for the pipes.
  process.exitCode = plan.exit ?? 0;
}
