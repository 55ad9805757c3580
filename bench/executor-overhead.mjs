#!/usr/bin/env node
// What running a job through Slurm costs next to the local executor (never part of
// npm test). Needs `npm run build` and the test cluster (`bash scripts/services/slurm.sh
// start`, then SLURM_TEST_CONF from `bash scripts/services/slurm.sh env`).
//
//   node bench/executor-overhead.mjs [--jobs N (5)]
//
// Starts a portal with an in-process worker from dist/, once per executor, and submits N
// tiny jobs one after another (POST /tasks form; the solver is the test double
// packages/test-support/src/fake-speos.mjs, one pass of 10 ms). Per job it times,
// by polling the API every 20 ms: submit → the solver's first output line in the log
// ("submit → running"), and submit → SUCCESS ("per job"). Prints a markdown table of
// medians and maxima.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { jobs: { type: 'string' } } });
const JOBS = Number(values.jobs ?? 5);
const CONF = process.env.SLURM_TEST_CONF;
const FAKE = fileURLToPath(new URL('../packages/test-support/src/fake-speos.mjs', import.meta.url));

const { createPortal } = await import('../packages/server/dist/app.js');
const { loadConfig } = await import('../packages/server/dist/config.js');
const { loadWorkerConfig } = await import('../packages/server/dist/worker/config.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function measure(label, extraEnv) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'speos-exec-bench-'));
  const env = {
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    SPEOS_COMMAND_V252: `${process.execPath} ${FAKE} {master}`,
    WORKER_POLL_SECONDS: '0.2',
    ...extraEnv(dataDir),
  };
  const { app } = await createPortal(loadConfig(env), { worker: loadWorkerConfig(env, dataDir) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${app.server.address().port}`;
  const toRunning = [];
  const perJob = [];
  for (let i = 0; i < JOBS; i++) {
    const form = new FormData();
    form.set('master_file', new Blob([JSON.stringify({ passes: 1, delay_ms: 10 })]), 'model.speos');
    form.set('job_name', `bench-${i}`);
    form.set('thread_count', '1');
    const t0 = performance.now();
    const { task_id: id } = await (await fetch(`${url}/tasks`, { method: 'POST', body: form })).json();
    let running;
    for (;;) {
      if (running === undefined) {
        const log = await (await fetch(`${url}/tasks/${id}/logs?offset=0`)).json();
        if (log.content?.includes('ARGV')) running = performance.now() - t0;
      }
      const task = await (await fetch(`${url}/tasks/${id}`)).json();
      if (task.status === 'SUCCESS') {
        running ??= performance.now() - t0;
        perJob.push(performance.now() - t0);
        toRunning.push(running);
        break;
      }
      if (task.status === 'FAILURE') throw new Error(`${label}: ${task.message}`);
      await sleep(20);
    }
  }
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
  return { label, toRunning, perJob };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

const rows = [await measure('local', () => ({}))];
if (CONF) {
  for (const poll of ['0.5', '3']) {
    rows.push(
      await measure(`slurm (SLURM_POLL_SECONDS=${poll})`, (dataDir) => ({
        EXECUTOR: 'slurm',
        SLURM_WORKDIR_ROOT: path.join(dataDir, 'slurm-work'),
        SLURM_CONF: CONF,
        SLURM_POLL_SECONDS: poll,
      })),
    );
  }
} else console.warn('SLURM_TEST_CONF unset: measuring the local executor only');

console.log(`| executor (${JOBS} jobs) | submit → running, median | max | per job (submit → SUCCESS), median | max |`);
console.log('|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.label} | ${fmt(median(r.toRunning))} | ${fmt(Math.max(...r.toRunning))} | ${fmt(median(r.perJob))} | ${fmt(Math.max(...r.perJob))} |`,
  );
}
