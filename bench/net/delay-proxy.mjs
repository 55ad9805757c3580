#!/usr/bin/env node
// A TCP proxy that adds latency (and optionally resets connections), because this kernel has
// no netem. Used by `npm run bench -- --net …` (bench/net/run-net.mjs); never by npm test.
//
//   node delay-proxy.mjs LISTEN_PORT TARGET_HOST TARGET_PORT RTT_MS [RESET_FRACTION] [SEED]
//
// Every byte waits RTT/2 in each direction. A new connection is usable only one RTT after it
// was accepted (the SYN/SYN-ACK a real path would cost), so opening connections costs what it
// would at that RTT. Caveat: the proxy splits the TCP connection — the client's TCP sees
// loopback, so slow start and window limits at the emulated RTT are not reproduced; what is
// reproduced is every application-level round trip and connection set-up.
//
// Resets (RESET_FRACTION, e.g. 0.005): a connection is reset with that probability when it
// opens, and again for every 5 MiB (one default part) it carries, at a random byte — so every
// client meets the same rate of resets per byte sent, however it uses its connections.
import { appendFileSync } from 'node:fs';
import net from 'node:net';

const [listenPort, targetHost, targetPort, rttArg, resetArg = '0'] = process.argv.slice(2);
const oneWay = Number(rttArg) / 2;
const resetFraction = Number(resetArg);
const PART = 5 * 1024 * 1024;
// Bytes held in one direction's delay line before the sender is paused: more than a
// bandwidth-delay product at 1 Gbit/s and 100 ms, so the line itself never limits the rate.
const LINE_LIMIT = 32 * 1024 * 1024;
let resets = 0;
// TRACE_FILE: one line per connection opened, request line seen and status line answered,
// with ms since the first connection — the serial round trips of a client, measured.
const TRACE_FILE = process.env.TRACE_FILE;
let t0;
let connections = 0;
function trace(conn, what) {
  if (!TRACE_FILE) return;
  t0 ??= performance.now();
  appendFileSync(TRACE_FILE, `${(performance.now() - t0).toFixed(1).padStart(9)} ms  conn ${conn}  ${what}\n`);
}
const REQUEST_LINE = /^(GET|PUT|POST|PATCH|HEAD|DELETE|OPTIONS) (\S+)/;

/** Bytes until the next reset: geometric over 5 MiB slots with probability resetFraction each. */
function bytesUntilReset() {
  if (resetFraction <= 0) return Number.POSITIVE_INFINITY;
  return -Math.log(1 - Math.random()) * (PART / resetFraction);
}

/** Forwards src → dst, every chunk delayed until max(arrival, readyAt) + oneWay ms. */
function delayedPipe(src, dst, readyAt, onBytes) {
  const queue = [];
  let head = 0;
  let queued = 0;
  let timer;
  let draining = false;
  const schedule = () => {
    if (timer || draining || head >= queue.length) return;
    timer = setTimeout(flush, Math.max(0, queue[head].at - performance.now()));
  };
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (head < queue.length && queue[head].at <= now && !draining) {
      const { chunk } = queue[head++];
      if (chunk === null) {
        dst.end();
        return;
      }
      queued -= chunk.length;
      if (!dst.write(chunk)) {
        draining = true;
        dst.once('drain', () => {
          draining = false;
          flush();
        });
      }
    }
    if (head > 1024) {
      queue.splice(0, head);
      head = 0;
    }
    if (queued < LINE_LIMIT && src.isPaused()) src.resume();
    schedule();
  };
  src.on('data', (chunk) => {
    onBytes?.(chunk.length);
    queue.push({ at: Math.max(performance.now(), readyAt) + oneWay, chunk });
    queued += chunk.length;
    if (queued >= LINE_LIMIT) src.pause();
    schedule();
  });
  src.on('end', () => {
    queue.push({ at: Math.max(performance.now(), readyAt) + oneWay, chunk: null });
    schedule();
  });
}

const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: targetHost, port: Number(targetPort), noDelay: true });
  const conn = ++connections;
  trace(conn, 'open');
  if (TRACE_FILE) {
    client.on('data', (chunk) => {
      const m = REQUEST_LINE.exec(chunk.subarray(0, 200).toString('latin1'));
      if (m) trace(conn, `→ ${m[1]} ${m[2].split('?')[0]}`);
    });
    upstream.on('data', (chunk) => {
      const head = chunk.subarray(0, 16).toString('latin1');
      if (head.startsWith('HTTP/1.1 ')) trace(conn, `← ${head.slice(9, 12)} (arrives ${oneWay} ms later)`);
    });
  }
  const readyAt = performance.now() + 2 * oneWay;
  let budget = Math.random() < resetFraction ? Math.random() * 64 * 1024 : bytesUntilReset();
  const kill = () => {
    client.destroy();
    upstream.destroy();
  };
  const reset = () => {
    resets++;
    client.resetAndDestroy();
    upstream.resetAndDestroy();
  };
  client.on('error', kill);
  upstream.on('error', kill);
  // A side that went away without a clean end (destroyed, aborted) takes the other with it.
  client.on('close', () => client.readableEnded || kill());
  upstream.on('close', () => upstream.readableEnded || kill());
  delayedPipe(client, upstream, readyAt, (n) => {
    budget -= n;
    if (budget <= 0) reset();
  });
  delayedPipe(upstream, client, 0);
});
server.listen(Number(listenPort), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => {
  console.log(`resets ${resets}`);
  process.exit(0);
});
