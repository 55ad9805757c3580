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
//    "require": ["materials/glass.txt"], "hang": false, "child": false,
//    "estimated": "00:20:00", "ignore_sigterm": false}
//
// FAKE_SPEOS_LEDGER=file: one line per run (the plan's id). FAKE_SPEOS_RUNS=file: one
// JSON line per start {key, pid}; a run that finds an earlier run of the same plan id
// still running adds {overlap: key, pid} — what "one task, one solver at a time" forbids.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { seededBytes } from './seeded-bytes.mjs';

const [master, ...rest] = process.argv.slice(2);
console.log(`ARGV ${JSON.stringify(process.argv.slice(2))}`);
const plan = JSON.parse(readFileSync(master, 'utf8'));
if (process.env.FAKE_SPEOS_LEDGER) appendFileSync(process.env.FAKE_SPEOS_LEDGER, `${plan.id ?? master}\n`);
if (process.env.FAKE_SPEOS_RUNS) {
  const file = process.env.FAKE_SPEOS_RUNS;
  const key = plan.id ?? master;
  const running = (pid) => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
    } catch {
      return false;
    }
  };
  const earlier = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  for (const run of earlier) {
    if (run.key === key && run.pid !== process.pid && running(run.pid)) {
      appendFileSync(file, `${JSON.stringify({ overlap: key, pid: run.pid })}\n`);
    }
  }
  appendFileSync(file, `${JSON.stringify({ key, pid: process.pid })}\n`);
}
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
  const left = plan.estimated ?? `00:00:${String(passes - pass).padStart(2, '0')}`;
  console.log(`Sensor ${pass} of ${passes}, estimated time remaining: ${left}`);
}
if (plan.hang) {
  console.log('simulating forever');
  process.on('SIGTERM', () => {
    // A solver stuck in a licence call ignores SIGTERM: the worker must SIGKILL it.
    if (plan.ignore_sigterm) return console.log('got SIGTERM, ignoring it');
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
