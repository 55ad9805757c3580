// The network-shaped bench: `npm run bench -- --net <profile>[,<profile>…]` (or `--net all`).
// Never part of npm test; needs root (ip netns, tc). See docs/performance.md.
//
// Per profile, a fresh link (bench/net/netns.mjs: namespace + veth + tbf) and, per variant, a
// fresh server in the namespace behind a delay proxy (bench/net/delay-proxy.mjs), then:
//   curl      one streaming PUT of the whole file (the reference; no resets on its path)
//   cli       `speos-portal upload` with default settings
//   cli-N     the same with --concurrency N (only when asked: --variants cli-8)
//   cli-chunkN  the CLI's defaults against a server with CHUNK_SIZE N MiB (--variants cli-chunk16)
//   chromium  the web UI's uploader in Debian's Chromium
//   chromium-chunkN  the same against a server with CHUNK_SIZE N MiB (--variants chromium-chunk16)
//   tus       tus-js-client → @tus/server (5 MiB chunks, one at a time)
//   seq       the original frontend's loop: one part at a time, no retry (seq-upload.mjs)
// Variants run interleaved round by round. Reported: MiB/s as a fraction of the link rate,
// and of curl's in the same run; client CPU seconds per GiB; server peak RSS; load average;
// with --trace also the rate while the file's bytes were being sent (sendingSeconds).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../test/chromium.mjs';
import { freePort, makeFile, watchPeak } from '../support.mjs';
import { createLink, removeAllLinks, removeStaleLinks } from './netns.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BENCH = fileURLToPath(new URL('..', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const CLI = path.join(ROOT, 'packages/cli/dist/bin.js');
const MiB = 1024 * 1024;

export const PROFILES = {
  '100M-20ms': { mbit: 100, rttMs: 20, resets: 0 },
  '1G-20ms': { mbit: 1000, rttMs: 20, resets: 0 },
  '1G-100ms': { mbit: 1000, rttMs: 100, resets: 0 },
  '100M-50ms-reset': { mbit: 100, rttMs: 50, resets: 0.005 },
};

const { values: args } = parseArgs({
  options: {
    net: { type: 'string' },
    size: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '1' },
    variants: { type: 'string', default: 'curl,cli,chromium,tus,seq' },
    'server-env': { type: 'string', multiple: true, default: [] },
    trace: { type: 'boolean', default: false },
    // Another checkout's built CLI (e.g. main before this change) as variant cli-baseline.
    'baseline-cli': { type: 'string' },
  },
});
const profileNames = args.net === 'all' ? Object.keys(PROFILES) : args.net.split(',');
for (const name of profileNames) {
  if (!PROFILES[name]) {
    console.error(`unknown profile ${name}; known: ${Object.keys(PROFILES).join(', ')}, all`);
    process.exit(2);
  }
}
const SIZE = Number(args.size) * MiB;
const ROUNDS = Number(args.rounds);
const VARIANTS = args.variants.split(',');
// Extra server settings for the portal, e.g. --server-env CHUNK_SIZE=16777216.
const SERVER_ENV = Object.fromEntries(args['server-env'].map((kv) => kv.split(/=(.*)/s).slice(0, 2)));

if (process.getuid?.() !== 0) {
  console.error('the network bench needs root (ip netns, tc)');
  process.exit(2);
}

const work = mkdtempSync(path.join(tmpdir(), 'speos-netbench-'));
/** Servers, proxies and clients still running: killed on exit, so a Ctrl-C leaves nothing behind. */
const children = new Set();
const cleanup = () => {
  for (const child of children) child.kill('SIGKILL');
  removeAllLinks();
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));
process.on('uncaughtException', (error) => {
  console.error(error);
  process.exit(1);
});
removeStaleLinks();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, d = 0) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
const load = () => loadavg()[0];

/** A long-running process (optionally inside the namespace) that prints "ready" or answers healthUrl. */
async function startProcess(argv, { env = {}, ns, healthUrl } = {}) {
  const [cmd, ...rest] = ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
  const child = spawn(cmd, rest, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const peak = watchPeak(child.pid); // `ip netns exec` execs, so this is the server's pid
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${argv.join(' ')} exited: ${out}`);
    if (i > 600) throw new Error(`${argv.join(' ')} did not start: ${out}`);
    if (healthUrl) {
      try {
        if ((await fetch(healthUrl)).ok) break;
      } catch {}
    } else if (out.includes('ready')) break;
    await sleep(50);
  }
  return {
    child,
    output: () => out,
    async stop() {
      const rss = peak.stop();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
      return rss;
    },
  };
}

/** A server in the namespace at serverIp:port, reached by clients through a delay proxy. */
async function behindProxy(link, profile, port, withResets) {
  const proxyPort = await freePort();
  const traceFile = currentTrace;
  const proxy = await startProcess(
    [
      process.execPath,
      path.join(HERE, 'delay-proxy.mjs'),
      String(proxyPort),
      link.serverIp,
      String(port),
      String(profile.rttMs),
      String(withResets ? profile.resets : 0),
    ],
    { env: traceFile ? { TRACE_FILE: traceFile } : {} },
  );
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    async stop() {
      await proxy.stop();
      return Number(/resets (\d+)/.exec(proxy.output())?.[1] ?? 0);
    },
  };
}

/**
 * Runs a client command to completion; its CPU time (user + system of it and its children)
 * comes from bash's `times`, so the command needs no instrumentation.
 */
function runClient(argv) {
  return new Promise((resolve, reject) => {
    const script = '"$@"; rc=$?; times >&2; exit $rc';
    // Its own process group, so the exit clean-up can end the client under bash too.
    const child = spawn('bash', ['-c', script, 'client', ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const group = {
      kill() {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      },
    };
    children.add(group);
    child.on('exit', () => children.delete(group));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const lines = out.trimEnd().split('\n');
      const seconds = (s) => {
        const m = /(\d+)m([\d.]+)s/.exec(s);
        return m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN;
      };
      const [user, sys] = (lines.at(-1) ?? '').split(/\s+/).map(seconds);
      if (code === 0) resolve({ cpu: user + sys, out });
      else reject(new Error(`${path.basename(argv[1] ?? argv[0])} exited ${code}: ${out.slice(-1500)}`));
    });
  });
}

let nextPort = 9000;
/**
 * From a proxy trace: the seconds from the first request that carries the file's bytes (PUT,
 * or tus's PATCH) until the client received the last answer to one, so a table can show the
 * rate while sending apart from the serial calls before and after (process start, config,
 * init, complete, confirm). Answers follow their request on the same connection.
 */
function sendingSeconds(traceText) {
  const lastMethod = new Map();
  let first;
  let last;
  for (const line of traceText.split('\n')) {
    const m = /^\s*([\d.]+) ms {2}conn (\d+) {2}(→ (\S+)|← \d+ \(arrives (\d+) ms later\))/.exec(line);
    if (!m) continue;
    const [, at, conn, , method, oneWay] = m;
    if (method) {
      lastMethod.set(conn, method);
      if ((method === 'PUT' || method === 'PATCH') && first === undefined) first = Number(at);
    } else if (lastMethod.get(conn) === 'PUT' || lastMethod.get(conn) === 'PATCH') {
      last = Number(at) + Number(oneWay);
    }
  }
  return first !== undefined && last !== undefined && last > first ? (last - first) / 1000 : undefined;
}

/** With --trace: the file the next proxy writes its trace to (bench/results/trace-…). */
let currentTrace;

async function startPortal(link, profile, withResets, serverEnv = {}) {
  const port = nextPort++;
  const dataDir = mkdtempSync(path.join(work, 'portal-'));
  const proxy = await behindProxy(link, profile, port, withResets);
  const server = await startProcess([process.execPath, CLI, 'serve'], {
    ns: link.ns,
    env: {
      HOST: link.serverIp,
      PORT: String(port),
      PUBLIC_URL: proxy.url,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      MAX_FILE_SIZE: String(4096 * MiB),
      ...SERVER_ENV,
      ...serverEnv,
    },
    healthUrl: `http://${link.serverIp}:${port}/healthz`,
  });
  return {
    url: proxy.url,
    direct: `http://${link.serverIp}:${port}`,
    async stop() {
      const serverRss = await server.stop();
      const resets = await proxy.stop();
      rmSync(dataDir, { recursive: true, force: true });
      return { serverRss, resets };
    },
  };
}

async function simpleServer(script, link, profile, withResets) {
  const port = nextPort++;
  const dir = mkdtempSync(path.join(work, 'srv-'));
  const proxy = await behindProxy(link, profile, port, withResets);
  const server = await startProcess([process.execPath, path.join(BENCH, script), dir, String(port)], {
    ns: link.ns,
    env: { BENCH_HOST: link.serverIp },
  });
  return {
    url: proxy.url,
    async stop() {
      const serverRss = await server.stop();
      const resets = await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
      return { serverRss, resets };
    },
  };
}

/** Times `body(url)` against a server, and stops it whatever happens. */
async function timed(server, body) {
  try {
    const started = performance.now();
    const r = await body(server);
    const seconds = (performance.now() - started) / 1000;
    return { seconds, ...r, ...(await server.stop()) };
  } catch (error) {
    await server.stop().catch(() => {});
    throw error;
  }
}

const variants = {
  curl: {
    label: 'curl, one PUT (reference)',
    run: async (file, link, profile) =>
      timed(await simpleServer('ceiling-server.mjs', link, profile, false), async ({ url }) => {
        const { cpu } = await runClient(['curl', '-sS', '-f', '-T', file, '-o', '/dev/null', `${url}/`]);
        return { cpu };
      }),
  },
  cli: {
    label: 'speos-portal upload (defaults)',
    run: (file, link, profile) => cliUpload(file, link, profile, []),
  },
  chromium: { label: 'web UI in Chromium', run: (file, link, profile) => chromiumUpload(file, link, profile) },
  tus: {
    label: 'tus-js-client → @tus/server',
    run: async (file, link, profile) =>
      timed(await simpleServer('tus-server.mjs', link, profile, true), async ({ url }) => {
        const { cpu } = await runClient([process.execPath, path.join(BENCH, 'tus-client.mjs'), file, `${url}/files`]);
        return { cpu };
      }),
  },
  seq: {
    label: 'original frontend loop (sequential)',
    run: async (file, link, profile) =>
      timed(await startPortal(link, profile, true), async ({ url }) => {
        const { cpu } = await runClient([process.execPath, path.join(HERE, 'seq-upload.mjs'), file, url]);
        return { cpu };
      }),
  },
};
for (const name of VARIANTS) {
  const chunk = /^cli-chunk(\d+)$/.exec(name);
  if (chunk) {
    variants[name] = {
      label: `speos-portal upload (defaults), server CHUNK_SIZE ${chunk[1]} MiB`,
      run: (file, link, profile) =>
        cliUpload(file, link, profile, [], CLI, { CHUNK_SIZE: String(Number(chunk[1]) * MiB) }),
    };
  }
  const browserChunk = /^chromium-chunk(\d+)$/.exec(name);
  if (browserChunk) {
    variants[name] = {
      label: `web UI in Chromium, server CHUNK_SIZE ${browserChunk[1]} MiB`,
      run: (file, link, profile) =>
        chromiumUpload(file, link, profile, { CHUNK_SIZE: String(Number(browserChunk[1]) * MiB) }),
    };
  }
  const m = /^cli-(\d+)$/.exec(name);
  if (m) {
    variants[name] = {
      label: `speos-portal upload --concurrency ${m[1]}`,
      run: (file, link, profile) => cliUpload(file, link, profile, ['--concurrency', m[1]]),
    };
  }
}

if (args['baseline-cli']) {
  variants['cli-baseline'] = {
    label: `upload with ${args['baseline-cli']} (defaults)`,
    run: (file, link, profile) => cliUpload(file, link, profile, [], path.resolve(args['baseline-cli'])),
  };
}

async function cliUpload(file, link, profile, flags, cli = CLI, serverEnv = {}) {
  const state = mkdtempSync(path.join(work, 'state-'));
  return timed(await startPortal(link, profile, true, serverEnv), async ({ url }) => {
    const argv = [process.execPath, cli, 'upload', file, '--job-name', 'bench', '--server', url];
    const { cpu } = await runClient([...argv, '--state-dir', state, '--json', ...flags]);
    return { cpu };
  });
}

/**
 * CPU seconds (user + system, children reaped included) of a process and its descendants,
 * in total and by Chromium process type (browser, renderer, utility = network service, gpu).
 */
function treeCpuSeconds(rootPid) {
  const stats = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // Chromium rewrites its children's command lines as one space-separated string.
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const type = /(?:^| )--type=(\S+)/.exec(cmd)?.[1] ?? 'browser';
      const ticks = fields.slice(11, 15).reduce((a, f) => a + Number(f), 0);
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks, type });
    } catch {}
  }
  const byType = {};
  let total = 0;
  const visit = (pid) => {
    const s = stats.get(pid);
    if (s) {
      total += s.ticks / 100; // USER_HZ
      byType[s.type] = (byType[s.type] ?? 0) + s.ticks / 100;
    }
    for (const [child, c] of stats) if (c.ppid === pid) visit(child);
  };
  visit(rootPid);
  return { total, byType };
}

function chromiumRootPid(profileDir) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd.includes(`--user-data-dir=${profileDir}`) && !cmd.some((a) => a.startsWith('--type=')))
        return Number(entry);
    } catch {}
  }
  return undefined;
}

async function chromiumUpload(file, link, profile, serverEnv = {}) {
  const { chromium } = await import('playwright-core');
  const portal = await startPortal(link, profile, true, serverEnv);
  const profileDir = mkdtempSync(path.join(work, 'chromium-'));
  let browser;
  try {
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      locale: 'en-US',
    });
    const page = await browser.newPage();
    await page.goto(portal.url);
    await page.getByLabel('Master file').setInputFiles(file);
    await page.getByLabel('Job name').fill('bench');
    const pid = chromiumRootPid(profileDir);
    const cpuBefore = pid ? treeCpuSeconds(pid) : undefined;
    const started = performance.now();
    await page.getByRole('button', { name: 'Submit' }).click();
    for (;;) {
      const list = await (await fetch(`${portal.direct}/tasks?status=PENDING`)).json();
      if (list.total > 0) break;
      if (performance.now() - started > 900_000) throw new Error('Chromium upload did not finish in 15 minutes');
      await sleep(50);
    }
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = pid ? treeCpuSeconds(pid) : undefined;
    const cpu = cpuAfter && cpuBefore ? cpuAfter.total - cpuBefore.total : Number.NaN;
    const cpuByType = Object.fromEntries(
      Object.entries(cpuAfter?.byType ?? {}).map(([t, v]) => [t, v - (cpuBefore?.byType[t] ?? 0)]),
    );
    return { seconds, cpu, cpuByType, ...(await portal.stop()) };
  } catch (error) {
    await portal.stop().catch(() => {});
    throw error;
  } finally {
    await browser?.close();
    rmSync(profileDir, { recursive: true, force: true });
  }
}

/**
 * What the path delivers: curl's time to first byte of /healthz through the proxy, on new
 * connections (min of 3 runs; set-up + request = 2 RTT, since the proxy accepts at once and
 * makes the connection wait one RTT) and reused ones (min of 4 on one connection; 1 RTT).
 */
async function measureRtt(link, profile) {
  const server = await startPortal(link, profile, false);
  const ttfb = async (n) => {
    const argv = ['curl', '-sS'];
    for (let i = 0; i < n; i++) argv.push('-o', '/dev/null', '-w', '%{time_starttransfer}\\n', `${server.url}/healthz`);
    const { out } = await runClient(argv);
    return out
      .split('\n')
      .filter((l) => /^[\d.]+$/.test(l))
      .map((l) => Number(l) * 1000);
  };
  try {
    await ttfb(1); // the server's first request warms it up
    const fresh = [...(await ttfb(1)), ...(await ttfb(1)), ...(await ttfb(1))];
    const reused = (await ttfb(5)).slice(1);
    return { newConnectionMs: Math.min(...fresh), reusedConnectionMs: Math.min(...reused) };
  } finally {
    await server.stop();
  }
}

async function main() {
  console.error(
    `speos-portal network bench: ${args.size} MiB, ${ROUNDS} round(s), profiles ${profileNames.join(', ')}, variants ${VARIANTS.join(', ')}, ${cpus().length} cores`,
  );
  if (VARIANTS.includes('chromium') && !existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}`);
  const file = makeFile(work, 'upload.speos', SIZE);
  const result = {
    date: new Date().toISOString(),
    size_mib: SIZE / MiB,
    rounds: ROUNDS,
    node: process.version,
    server_env: SERVER_ENV,
    profiles: {},
  };
  const out = [];
  for (const name of profileNames) {
    const profile = PROFILES[name];
    const link = createLink(profile.mbit);
    const linkMiBps = (profile.mbit * 1e6) / 8 / MiB;
    try {
      const rtt = await measureRtt(link, profile);
      console.error(
        `${name}: first request on a new connection ${fmt(rtt.newConnectionMs, 1)} ms (2 RTT = ${2 * profile.rttMs}), reused ${fmt(rtt.reusedConnectionMs, 1)} ms (1 RTT = ${profile.rttMs})`,
      );
      const samples = Object.fromEntries(VARIANTS.map((v) => [v, []]));
      for (let round = 1; round <= ROUNDS; round++) {
        for (const v of VARIANTS) {
          const before = load();
          if (args.trace) {
            currentTrace = path.join(BENCH, 'results', `trace-${name}-${v}-${round}.txt`);
            rmSync(currentTrace, { force: true });
          }
          try {
            const r = await variants[v].run(file, link, profile);
            const sample = { ...r, mibps: SIZE / MiB / r.seconds, load1: (before + load()) / 2 };
            const sending =
              currentTrace && existsSync(currentTrace) && sendingSeconds(readFileSync(currentTrace, 'utf8'));
            if (sending) sample.sendingMibps = SIZE / MiB / sending;
            samples[v].push(sample);
            console.error(
              `${name} round ${round} ${v}: ${fmt(sample.mibps, 1)} MiB/s (${fmt(sample.mibps / linkMiBps, 2)}× link${sample.sendingMibps ? `; ${fmt(sample.sendingMibps / linkMiBps, 2)}× while sending` : ''}), CPU ${fmt(r.cpu, 1)} s${r.cpuByType ? ` ${JSON.stringify(r.cpuByType)}` : ''}, server ${fmt(r.serverRss)} MiB, resets ${r.resets}, load ${fmt(sample.load1, 1)}`,
            );
          } catch (error) {
            console.error(`${name} round ${round} ${v} failed: ${error.message}`);
            samples[v].push({ failed: error.message.slice(0, 300) });
          }
          currentTrace = undefined;
        }
      }
      const ok = (v) => samples[v]?.filter((s) => !s.failed);
      const speed = (v) => (ok(v)?.length ? median(ok(v).map((s) => s.mibps)) : Number.NaN);
      const rows = {};
      for (const v of VARIANTS) {
        const s = ok(v);
        rows[v] = {
          label: variants[v].label,
          mibps: speed(v),
          of_link: speed(v) / linkMiBps,
          of_curl: speed(v) / speed('curl'),
          sending_of_link: s.some((x) => x.sendingMibps)
            ? median(s.filter((x) => x.sendingMibps).map((x) => x.sendingMibps)) / linkMiBps
            : Number.NaN,
          cpu_s_per_gib: s.length ? median(s.map((x) => (x.cpu / (SIZE / MiB)) * 1024)) : Number.NaN,
          server_peak_rss_mib: s.length ? Math.max(...s.map((x) => x.serverRss)) : Number.NaN,
          resets: s.reduce((a, x) => a + (x.resets ?? 0), 0),
          load1: s.length ? median(s.map((x) => x.load1)) : Number.NaN,
          failed: samples[v].filter((x) => x.failed).map((x) => x.failed),
          ...(s[0]?.cpuByType ? { cpu_s_by_process_type: s.map((x) => x.cpuByType) } : {}),
        };
      }
      result.profiles[name] = { ...profile, link_mibps: linkMiBps, rtt_check: rtt, variants: rows };
      out.push(
        '',
        `### ${name}: ${profile.mbit} Mbit/s (${fmt(linkMiBps, 1)} MiB/s), ${profile.rttMs} ms RTT${profile.resets ? `, ${profile.resets * 100} % resets` : ''} — curl -w: new connection ${fmt(rtt.newConnectionMs)} ms, reused ${fmt(rtt.reusedConnectionMs)} ms`,
        '',
        `| variant | MiB/s | × link | × curl |${args.trace ? ' × link while sending |' : ''} client CPU s/GiB | server peak RSS MiB | resets | load avg |`,
        `|---|---|---|---|${args.trace ? '---|' : ''}---|---|---|---|`,
      );
      for (const v of VARIANTS) {
        const r = rows[v];
        const failed = r.failed.length ? ` (${r.failed.length} failed)` : '';
        out.push(
          `| ${r.label}${failed} | ${fmt(r.mibps, 1)} | ${fmt(r.of_link, 2)} | ${fmt(r.of_curl, 2)} |${args.trace ? ` ${fmt(r.sending_of_link, 2)} |` : ''} ${fmt(r.cpu_s_per_gib, 1)} | ${fmt(r.server_peak_rss_mib)} | ${r.resets} | ${fmt(r.load1, 1)} |`,
        );
      }
    } finally {
      link.remove();
    }
  }
  const header = `## speos-portal network bench — ${result.date}, ${args.size} MiB, ${ROUNDS} round(s), Node ${process.version}, ${cpus().length} cores${Object.keys(SERVER_ENV).length ? `, server ${JSON.stringify(SERVER_ENV)}` : ''}`;
  console.log([header, ...out].join('\n'));
  mkdirSync(path.join(BENCH, 'results'), { recursive: true });
  const name = `net-${result.date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(path.join(BENCH, 'results', name), `${JSON.stringify(result, null, 2)}\n`);
  console.error(`\nwrote bench/results/${name}`);
}

await main();
process.exit(0);
