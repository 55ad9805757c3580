// A shaped link for the network bench: the server side lives in its own network namespace,
// joined to this one by a veth pair whose both ends are rate-limited with tc tbf (this
// kernel has no netem; latency comes from bench/net/delay-proxy.mjs). Needs root.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const PREFIX = 'spb';

function ip(...args) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** tbf needs a bucket of at least one GSO packet (64 KiB) and a few ms of the rate. */
function tbf(dev, mbit, netns) {
  const burst = Math.max(128 * 1024, Math.round(((mbit * 1e6) / 8) * 0.004));
  const argv = [
    'qdisc',
    'replace',
    'dev',
    dev,
    'root',
    'tbf',
    'rate',
    `${mbit}mbit`,
    'burst',
    String(burst),
    'latency',
    '50ms',
  ];
  if (netns) execFileSync('ip', ['netns', 'exec', netns, 'tc', ...argv]);
  else execFileSync('tc', argv);
}

/** Namespaces left by bench runs whose process is gone (a crash, a kill -9). */
export function removeStaleLinks() {
  let names = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)x\\d+$`).exec(name);
    if (m && !existsSync(`/proc/${m[1]}`)) {
      try {
        ip('netns', 'del', name);
      } catch {}
    }
  }
}

let counter = 0;
const live = new Set();

/**
 * Creates namespace + veth + tbf. Names carry this process's pid (unique per run, and how a
 * later run knows a leftover is stale); addresses come from the pid too, so parallel runs do
 * not clash. Returns the server's address and a remove().
 */
export function createLink(mbit) {
  const id = `${process.pid}x${counter++}`;
  const ns = `${PREFIX}${id}`;
  // Interface names are at most 15 characters.
  const tag = `${(process.pid % 100000).toString(36)}${counter}`;
  const hostDev = `sbh${tag}`;
  const nsDev = `sbn${tag}`;
  const slot = (process.pid * 8 + counter) % 16000;
  const net = `10.${200 + Math.floor(slot / 256 / 64)}.${Math.floor(slot / 64) % 256}.${(slot % 64) * 4}`;
  const [a, b, c, d] = net.split('.').map(Number);
  const hostIp = `${a}.${b}.${c}.${d + 1}`;
  const serverIp = `${a}.${b}.${c}.${d + 2}`;
  ip('netns', 'add', ns);
  live.add(ns);
  try {
    ip('link', 'add', hostDev, 'type', 'veth', 'peer', 'name', nsDev);
    ip('link', 'set', nsDev, 'netns', ns);
    ip('addr', 'add', `${hostIp}/30`, 'dev', hostDev);
    ip('link', 'set', hostDev, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${serverIp}/30`, 'dev', nsDev);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', nsDev, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    tbf(hostDev, mbit); // client → server (the upload)
    tbf(nsDev, mbit, ns); // server → client (answers, ACKs)
  } catch (error) {
    removeLink(ns);
    throw error;
  }
  return { ns, hostDev, serverIp, remove: () => removeLink(ns) };
}

function removeLink(ns) {
  if (!live.delete(ns)) return;
  try {
    ip('netns', 'del', ns); // takes the veth pair with it
  } catch {}
}

/** Removes every link of this run; called on exit and on signals. */
export function removeAllLinks() {
  for (const ns of [...live]) removeLink(ns);
}
