#!/usr/bin/env node
/**
 * Upload throughput through the portal's presigned URLs: one file (default 500 MiB) via
 * init → 4 parallel part PUTs → complete, timed from init to complete's answer, against
 *   fs    the embedded store (the portal process receives, hashes and fsyncs the parts),
 *   s3    an S3-compatible store (S3_TEST_* from scripts/services/up.sh; the portal only
 *         signs, the bytes go straight to the store),
 *   sink  a bare HTTP server that discards PUT bodies (the client + loopback ceiling).
 * The portal runs as its own process (packages/server/dist; `npx tsc -b packages/server`),
 * so client and server do not share an event loop. Results: median of RUNS.
 *
 *   npx tsc -b packages/server && source .tmp/services.env && node bench/presigned-upload-throughput.mjs
 * Env: SIZE_MIB (500), CHUNK_MIB (5), PARALLEL (4), RUNS (3), TARGETS (sink,fs,s3).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.SIZE_MIB ?? 500) * MiB;
const CHUNK = Number(process.env.CHUNK_MIB ?? 5) * MiB;
const PARALLEL = Number(process.env.PARALLEL ?? 4);
const RUNS = Number(process.env.RUNS ?? 3);
const TARGETS = (process.env.TARGETS ?? 'sink,fs,s3').split(',');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The portal as a child process, configured by env; resolves once /healthz answers. */
async function startPortal(env) {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'speos-bench-'));
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', "import { serve } from './packages/server/dist/index.js'; await serve();"],
    {
      cwd: root,
      env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {}
    if (i > 200) throw new Error('portal did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function post(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** One upload of `file` through the portal at `base`; returns seconds from init to complete. */
async function uploadOnce(base, file) {
  const handle = await open(file, 'r');
  const started = performance.now();
  const init = await post(`${base}/tasks/upload/multipart/init`, {
    filename: 'bench.speos.zip',
    file_size: SIZE,
    chunk_size: CHUNK,
  });
  const etags = new Array(init.parts.length);
  let next = 0;
  async function worker() {
    const buffer = Buffer.allocUnsafe(CHUNK);
    while (next < init.parts.length) {
      const part = init.parts[next++];
      const { bytesRead } = await handle.read(buffer, 0, part.size, part.start_byte);
      const res = await fetch(part.upload_url, { method: 'PUT', body: buffer.subarray(0, bytesRead) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`part ${part.part_number}: ${res.status}`);
      etags[part.part_number - 1] = res.headers.get('etag');
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const ref = { task_id: init.task_id, upload_id: init.upload_id, object_key: init.object_key };
  await post(`${base}/tasks/upload/multipart/complete`, {
    ...ref,
    parts: etags.map((etag, i) => ({ part_number: i + 1, etag })),
  });
  const seconds = (performance.now() - started) / 1000;
  await handle.close();
  await post(`${base}/tasks/upload/multipart/abort`, ref).catch(() => {}); // frees the space
  return seconds;
}

/** A bare HTTP server that reads and discards PUT bodies, answering like a store would. */
async function startSink() {
  const port = await freePort();
  const server = createServer((req, res) => {
    const hash = createHash('md5');
    req.on('data', (chunk) => hash.update(chunk));
    req.on('end', () => {
      res.writeHead(200, { ETag: `"${hash.digest('hex')}"` }).end();
    });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => server.close(r)) };
}

async function sinkOnce(sinkUrl, file) {
  const handle = await open(file, 'r');
  const started = performance.now();
  const count = Math.ceil(SIZE / CHUNK);
  let next = 0;
  async function worker() {
    const buffer = Buffer.allocUnsafe(CHUNK);
    while (next < count) {
      const n = next++;
      const size = Math.min(CHUNK, SIZE - n * CHUNK);
      const { bytesRead } = await handle.read(buffer, 0, size, n * CHUNK);
      const res = await fetch(`${sinkUrl}/part/${n + 1}`, { method: 'PUT', body: buffer.subarray(0, bytesRead) });
      await res.arrayBuffer();
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  await handle.close();
  return (performance.now() - started) / 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = mkdtempSync(path.join(tmpdir(), 'speos-bench-file-'));
const file = path.join(dir, 'input.bin');
{
  // Incompressible content, written once and read back from the page cache.
  const block = Buffer.allocUnsafe(16 * MiB);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
  const handle = await open(file, 'w');
  for (let written = 0; written < SIZE; written += block.length) {
    await handle.write(block, 0, Math.min(block.length, SIZE - written));
  }
  await handle.close();
}

console.log(
  `${SIZE / MiB} MiB, ${CHUNK / MiB} MiB parts, ${PARALLEL} in parallel, median of ${RUNS}; ` +
    `${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
);
const results = {};
try {
  for (const target of TARGETS) {
    let run;
    let stop;
    if (target === 'sink') {
      const sink = await startSink();
      run = () => sinkOnce(sink.url, file);
      stop = sink.stop;
    } else if (target === 'fs') {
      const portal = await startPortal({ STORAGE: 'fs', MAX_FILE_SIZE: String(SIZE) });
      run = () => uploadOnce(portal.url, file);
      stop = portal.stop;
    } else if (target === 's3') {
      if (!process.env.S3_TEST_ENDPOINT) {
        console.log('s3: skipped (source .tmp/services.env after scripts/services/up.sh)');
        continue;
      }
      const portal = await startPortal({
        STORAGE: 's3',
        MAX_FILE_SIZE: String(SIZE),
        S3_ENDPOINT: process.env.S3_TEST_ENDPOINT,
        S3_BUCKET: process.env.S3_TEST_BUCKET,
        S3_REGION: process.env.S3_TEST_REGION ?? 'us-east-1',
        S3_ACCESS_KEY_ID: process.env.S3_TEST_ACCESS_KEY_ID,
        S3_SECRET_ACCESS_KEY: process.env.S3_TEST_SECRET_ACCESS_KEY,
        S3_FORCE_PATH_STYLE: 'true',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      });
      run = () => uploadOnce(portal.url, file);
      stop = portal.stop;
    } else {
      throw new Error(`unknown target ${target}`);
    }
    const seconds = [];
    for (let i = 0; i < RUNS; i++) seconds.push(await run());
    await stop();
    const s = median(seconds);
    results[target] = { seconds, median_seconds: s, mib_per_second: SIZE / MiB / s };
    console.log(
      `${target.padEnd(4)} ${(SIZE / MiB / s).toFixed(0).padStart(5)} MiB/s  (${seconds.map((x) => x.toFixed(2)).join(', ')} s)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
await writeFile(
  path.join(root, 'bench', 'results', `presigned-upload-${Date.now()}.json`),
  JSON.stringify({ size: SIZE, chunk: CHUNK, parallel: PARALLEL, results }, null, 2),
).catch(() => {});
