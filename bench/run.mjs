#!/usr/bin/env node
// speos-portal benchmarks: `npm run bench` at the repository root (never part of npm test).
//
// Over 127.0.0.1, for one random file (500 MiB unless --size), variants interleaved round
// by round so that machine noise hits all alike:
//   (a) ceiling  one streaming PUT to a minimal Node server that writes it and MD5s it
//   (a') the same, fsynced before the 200 (what a 200 promises in speos-portal)
//   (b) tus      tus-js-client (5 MiB chunks) → @tus/server + @tus/file-store
//   (c) cli-N    `speos-portal upload` → embedded server, concurrency 1, 4, 8
//   (c') cli-4-md5-inline  the same with the server hashing on its event loop (the old way)
//   (d) chromium the web UI's uploader in Debian's Chromium (when installed and built)
// then once: (e) control-plane requests/s and latency with 50 clients, (f) peak memory for
// the file and for a 2 GiB file, (g) complete() latency and bytes re-sent after a SIGKILL
// at 50 %. Prints a markdown table and writes bench/results/bench-<time>.json.
//
// Options: --size MiB (500) --rounds N (3) --big-size MiB (2048, 0 skips) --only a,b,cli-4,…
//
// `--net <profile>[,…]|all` runs the network-shaped bench instead (bench/net/run-net.mjs:
// a shaped link in a network namespace; root only): see docs/performance.md.
if (process.argv.includes('--net') || process.argv.some((a) => a.startsWith('--net='))) {
  await import('./net/run-net.mjs');
}

import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../test/chromium.mjs';
import { freePort, makeFile, watchPeak } from './support.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = fileURLToPath(new URL('.', import.meta.url));
const CLI = path.join(ROOT, 'packages/cli/dist/bin.js');
const MiB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
    'big-size': { type: 'string', default: '2048' },
    only: { type: 'string' },
  },
});
const SIZE = Number(args.size) * MiB;
const ROUNDS = Number(args.rounds);
const BIG = Number(args['big-size']) * MiB;
const only = args.only ? new Set(args.only.split(',')) : null;
const wanted = (name) => !only || only.has(name);

const work = mkdtempSync(path.join(tmpdir(), 'speos-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

// --- helpers -----------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const shuffle = (xs) => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
};

function run(cmd, argv, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const peak = watchPeak(child.pid);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const rss = peak.stop();
      if (code === 0) resolve({ out, rss });
      else reject(new Error(`${path.basename(argv[0] ?? cmd)} exited ${code}: ${out.slice(-2000)}`));
    });
  });
}

/** A long-running process that prints "ready" or answers /healthz. */
async function startProcess(argv, env, healthUrl) {
  const child = spawn(process.execPath, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const peak = watchPeak(child.pid);
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${argv[0]} exited: ${out}`);
    if (healthUrl) {
      try {
        if ((await fetch(healthUrl)).ok) break;
      } catch {}
    } else if (out.includes('ready')) break;
    await sleep(50);
  }
  return {
    child,
    peak,
    async stop() {
      const rss = peak.stop();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
      return rss;
    },
  };
}

async function startPortal(env = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(work, 'portal-'));
  const url = `http://127.0.0.1:${port}`;
  const proc = await startProcess(
    [CLI, 'serve'],
    { PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn', MAX_FILE_SIZE: String(4096 * MiB), ...env },
    `${url}/healthz`,
  );
  return {
    url,
    pid: proc.child.pid,
    async stop() {
      const rss = await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
      return rss;
    },
  };
}

function postJson(base, p, body) {
  return fetch(`${base}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then((r) => r.json());
}

async function partsStored(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/speos_upload_parts_stored_total (\d+)/.exec(text)?.[1] ?? 0);
}

function putWholeFile(url, file) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-length': statSync(file).size } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${res.statusCode}`))));
    });
    req.on('error', reject);
    createReadStream(file, { highWaterMark: MiB }).pipe(req);
  });
}

// --- the upload variants (a)–(d) -------------------------------------------------------

const stateDir = () => mkdtempSync(path.join(work, 'state-'));

/** `speos-portal upload` of `file` to `url`, as a user would run it (JSON result, own state dir). */
function uploadArgv(file, url, concurrency, state) {
  const flags = ['--job-name', 'bench', '--server', url, '--concurrency', String(concurrency), '--state-dir', state];
  return [CLI, 'upload', file, ...flags, '--json'];
}

async function cliUpload(file, concurrency, serverEnv = {}) {
  const portal = await startPortal(serverEnv);
  try {
    const started = performance.now();
    const { rss } = await run(process.execPath, uploadArgv(file, portal.url, concurrency, stateDir()));
    const seconds = (performance.now() - started) / 1000;
    return { seconds, cliRss: rss, serverRss: await portal.stop() };
  } catch (error) {
    await portal.stop();
    throw error;
  }
}

async function ceiling(file, mode) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(work, 'ceiling-'));
  const server = await startProcess([path.join(BENCH, 'ceiling-server.mjs'), dir, String(port), mode], {});
  const started = performance.now();
  await putWholeFile(`http://127.0.0.1:${port}/`, file);
  const seconds = (performance.now() - started) / 1000;
  const serverRss = await server.stop();
  rmSync(dir, { recursive: true, force: true });
  return { seconds, serverRss };
}

const variants = {
  a: { label: '(a) ceiling: one PUT → disk + MD5', run: (file) => ceiling(file, '') },
  'a-fsync': { label: "(a') ceiling + fsync before the 200", run: (file) => ceiling(file, 'fsync') },
  b: {
    label: '(b) tus-js-client → @tus/server (5 MiB chunks)',
    async run(file) {
      const port = await freePort();
      const dir = mkdtempSync(path.join(work, 'tus-'));
      const server = await startProcess([path.join(BENCH, 'tus-server.mjs'), dir, String(port)], {});
      const started = performance.now();
      const { rss } = await run(process.execPath, [
        path.join(BENCH, 'tus-client.mjs'),
        file,
        `http://127.0.0.1:${port}/files`,
      ]);
      const seconds = (performance.now() - started) / 1000;
      const serverRss = await server.stop();
      rmSync(dir, { recursive: true, force: true });
      return { seconds, serverRss, cliRss: rss };
    },
  },
  'cli-1': { label: '(c) speos-portal upload, concurrency 1', run: (file) => cliUpload(file, 1) },
  'cli-4': { label: '(c) speos-portal upload, concurrency 4', run: (file) => cliUpload(file, 4) },
  'cli-8': { label: '(c) speos-portal upload, concurrency 8', run: (file) => cliUpload(file, 8) },
  'cli-4-md5-inline': {
    label: "(c') concurrency 4, server MD5 on the event loop (before)",
    run: (file) => cliUpload(file, 4, { HASH_THREADS: '0' }),
  },
  d: { label: '(d) Chromium, web UI uploader', run: (file) => chromiumUpload(file) },
};

async function chromiumUpload(file) {
  const { chromium } = await import('playwright-core');
  const portal = await startPortal();
  const profile = mkdtempSync(path.join(work, 'chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    locale: 'en-US',
  });
  try {
    const page = await browser.newPage();
    await page.goto(portal.url);
    await page.getByLabel('Master file').setInputFiles(file);
    await page.getByLabel('Job name').fill('bench');
    const started = performance.now();
    await page.getByRole('button', { name: 'Submit' }).click();
    for (;;) {
      const list = await (await fetch(`${portal.url}/tasks?status=PENDING`)).json();
      if (list.total > 0) break;
      if (performance.now() - started > 600_000) throw new Error('Chromium upload did not finish in 10 minutes');
      await sleep(50);
    }
    return { seconds: (performance.now() - started) / 1000, serverRss: await portal.stop() };
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

function chromiumAvailable() {
  if (!existsSync(CHROMIUM_PATH)) return `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`;
  if (!existsSync(path.join(ROOT, 'packages/web/dist/index.html'))) return 'the web UI is not built (npm run build)';
  return null;
}

// --- (e) control plane -----------------------------------------------------------------

async function controlPlane() {
  const { default: autocannon } = await import('autocannon');
  const portal = await startPortal();
  try {
    const post = (p, body) => postJson(portal.url, p, body);
    // One real upload to list, complete again (idempotent) and confirm again (idempotent).
    const data = Buffer.alloc(1024, 7);
    const init = await post('/tasks/upload/multipart/init', { filename: 'bench.speos', file_size: data.length });
    const ref = { task_id: init.task_id, upload_id: init.upload_id, object_key: init.object_key };
    const put = await fetch(init.parts[0].upload_url, { method: 'PUT', body: data });
    const parts = [{ part_number: 1, etag: put.headers.get('etag') }];
    await post('/tasks/upload/multipart/complete', { ...ref, parts });
    const confirmBody = { task_id: init.task_id, master_object_key: init.object_key, job_name: 'bench' };
    await post('/tasks/upload/confirm', confirmBody);
    const endpoints = {
      init: { path: '/tasks/upload/multipart/init', body: { filename: 'model.zip', file_size: 524288000 } },
      list: { path: '/tasks/upload/multipart/list', body: ref },
      complete: { path: '/tasks/upload/multipart/complete', body: { ...ref, parts } },
      confirm: { path: '/tasks/upload/confirm', body: confirmBody },
    };
    const results = {};
    for (const [name, { path: p, body }] of Object.entries(endpoints)) {
      const r = await autocannon({
        url: `${portal.url}${p}`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        connections: 50,
        duration: 5,
      });
      results[name] = { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.non2xx + r.errors };
    }
    return results;
  } finally {
    await portal.stop();
  }
}

// --- (g) complete() latency and resume overhead ----------------------------------------

async function completeLatency(file, size) {
  const portal = await startPortal();
  try {
    const post = (p, body) => postJson(portal.url, p, body);
    const init = await post('/tasks/upload/multipart/init', { filename: 'bench.speos', file_size: size });
    const queue = [...init.parts];
    const parts = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let part = queue.shift(); part; part = queue.shift()) {
          const etag = await new Promise((resolve, reject) => {
            const req = request(part.upload_url, { method: 'PUT', headers: { 'content-length': part.size } }, (res) => {
              res.resume();
              res.on('end', () => resolve(String(res.headers.etag).replace(/"/g, '')));
            });
            req.on('error', reject);
            createReadStream(file, { start: part.start_byte, end: part.end_byte - 1, highWaterMark: MiB }).pipe(req);
          });
          parts.push({ part_number: part.part_number, etag });
        }
      }),
    );
    parts.sort((x, y) => x.part_number - y.part_number);
    const started = performance.now();
    const done = await post('/tasks/upload/multipart/complete', {
      task_id: init.task_id,
      upload_id: init.upload_id,
      object_key: init.object_key,
      parts,
    });
    const ms = performance.now() - started;
    if (done.size !== size) throw new Error(`complete failed: ${JSON.stringify(done)}`);
    return ms;
  } finally {
    await portal.stop();
  }
}

async function resumeOverhead(file, size) {
  const portal = await startPortal();
  const state = stateDir();
  const argv = uploadArgv(file, portal.url, 4, state);
  try {
    const total = Math.ceil(size / (5 * MiB));
    const child = spawn(process.execPath, argv, { stdio: 'ignore' });
    while ((await partsStored(portal.url)) < total / 2) await sleep(10);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const before = await partsStored(portal.url);
    await run(process.execPath, argv);
    const after = await partsStored(portal.url);
    const sent = after - before;
    const resent = after - total; // parts stored twice: in flight at the kill, sent again
    return {
      partsBeforeKill: before,
      partsSentOnResume: sent,
      partsResent: Math.max(resent, 0),
      bytesResent: Math.max(resent, 0) * 5 * MiB,
    };
  } finally {
    await portal.stop();
  }
}

// --- main --------------------------------------------------------------------------------

const fmt = (x, d = 0) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));

async function main() {
  console.error(
    `speos-portal bench: ${args.size} MiB, ${ROUNDS} rounds, ${cpus().length} cores (${availableParallelism()} usable), ${fmt(totalmem() / 2 ** 30, 0)} GiB`,
  );
  const file = makeFile(work, 'upload.speos', SIZE);
  const skipD = chromiumAvailable();
  const names = Object.keys(variants).filter((n) => wanted(n) && !(n === 'd' && skipD));
  if (skipD && wanted('d')) console.error(`(d) skipped: ${skipD}`);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of shuffle(names)) {
      try {
        const r = await variants[name].run(file);
        samples[name].push({ ...r, mibps: SIZE / MiB / r.seconds });
        console.error(`round ${round} ${name}: ${fmt(SIZE / MiB / r.seconds, 1)} MiB/s`);
      } catch (error) {
        console.error(`round ${round} ${name} failed: ${error.message}`);
      }
    }
  }
  const speed = (n) => (samples[n]?.length ? median(samples[n].map((s) => s.mibps)) : Number.NaN);
  const result = {
    date: new Date().toISOString(),
    size_mib: SIZE / MiB,
    rounds: ROUNDS,
    node: process.version,
    cores: cpus().length,
    uploads: {},
  };
  const rows = [];
  for (const n of names) {
    const s = samples[n];
    if (!s.length) continue;
    const mibps = s.map((x) => x.mibps);
    result.uploads[n] = {
      label: variants[n].label,
      median_mibps: speed(n),
      min_mibps: Math.min(...mibps),
      max_mibps: Math.max(...mibps),
      vs_ceiling: speed(n) / speed('a'),
      vs_tus: speed(n) / speed('b'),
      server_peak_rss_mib: median(s.map((x) => x.serverRss ?? Number.NaN)),
      client_peak_rss_mib: median(s.map((x) => x.cliRss ?? Number.NaN)),
    };
    const u = result.uploads[n];
    rows.push(
      `| ${u.label} | ${fmt(u.median_mibps)} | ${fmt(u.min_mibps)}–${fmt(u.max_mibps)} | ${fmt(u.vs_ceiling, 2)} | ${fmt(u.vs_tus, 2)} | ${fmt(u.server_peak_rss_mib)} | ${fmt(u.client_peak_rss_mib)} |`,
    );
  }
  if (wanted('e')) {
    console.error('(e) control plane…');
    result.control_plane = await controlPlane();
  }
  if (wanted('f') && BIG > 0) {
    console.error(`(f) memory with ${BIG / MiB} MiB…`);
    const big = makeFile(work, 'big.speos', BIG);
    const r = await cliUpload(big, 4);
    rmSync(big);
    result.memory_big = {
      size_mib: BIG / MiB,
      mibps: BIG / MiB / r.seconds,
      server_peak_rss_mib: r.serverRss,
      client_peak_rss_mib: r.cliRss,
    };
  }
  if (wanted('g')) {
    console.error('(g) complete() and resume…');
    const times = [];
    for (let i = 0; i < ROUNDS; i++) times.push(await completeLatency(file, SIZE));
    result.complete_ms = { median: median(times), min: Math.min(...times), max: Math.max(...times) };
    result.resume = await resumeOverhead(file, SIZE);
  }

  const out = [];
  out.push(
    `## speos-portal bench — ${result.date}, ${args.size} MiB, ${ROUNDS} rounds, Node ${process.version}, ${cpus().length} cores`,
  );
  out.push('');
  out.push('| variant | MiB/s (median) | min–max | × (a) | × (b) | server peak RSS MiB | client peak RSS MiB |');
  out.push('|---|---|---|---|---|---|---|');
  out.push(...rows);
  if (result.control_plane) {
    out.push('', '| (e) control plane, 50 clients | req/s | p50 ms | p99 ms | non-2xx |', '|---|---|---|---|---|');
    for (const [n, r] of Object.entries(result.control_plane))
      out.push(`| ${n} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.errors} |`);
  }
  if (result.memory_big) {
    const m = result.memory_big;
    out.push(
      '',
      `(f) ${m.size_mib} MiB at concurrency 4: ${fmt(m.mibps)} MiB/s, server peak ${fmt(m.server_peak_rss_mib)} MiB, CLI peak ${fmt(m.client_peak_rss_mib)} MiB`,
    );
  }
  if (result.complete_ms) {
    out.push(
      `(g) complete() for ${args.size} MiB: median ${fmt(result.complete_ms.median, 1)} ms (${fmt(result.complete_ms.min, 1)}–${fmt(result.complete_ms.max, 1)})`,
    );
    const r = result.resume;
    out.push(
      `(g) resume after SIGKILL at ${r.partsBeforeKill} parts stored: ${r.partsSentOnResume} parts sent on resume, ${r.partsResent} re-sent (${fmt(r.bytesResent / MiB, 0)} MiB)`,
    );
  }
  const table = out.join('\n');
  console.log(table);
  const name = `bench-${result.date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(path.join(BENCH, 'results', name), `${JSON.stringify(result, null, 2)}\n`);
  console.error(`\nwrote bench/results/${name}`);
}

await main();
