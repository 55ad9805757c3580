/**
 * A fault-injecting HTTP proxy for tests: sits between client and portal, rewrites the
 * portal's absolute upload URLs to point at itself, and for a share of part PUTs resets the
 * connection mid-body or answers 500. It can also throttle request bodies (all connections
 * share one budget) to make uploads slow enough to kill or to outlive their URLs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultProxyOptions {
  /** Share (0…1) of part PUTs whose connection is reset after part of the body. */
  resetRate: number;
  /** Share (0…1) of part PUTs answered with 500 (the body is read, not forwarded). */
  errorRate: number;
  /** Share (0…1) of part PUTs that are read and then never answered (a stalled part). */
  hangRate: number;
  /** Share (0…1) of part PUTs held back `delayMs` before they reach the portal (URLs expire meanwhile). */
  delayRate: number;
  delayMs: number;
  /** Request-body bytes per second over all connections; 0 = unlimited. */
  bytesPerSecond: number;
  /** Seed of the deterministic random choice of faulty parts. */
  seed: number;
  /**
   * Forward the client's Host header unchanged (default: the target's). For an S3 store
   * behind the proxy (S3_PUBLIC_ENDPOINT = the proxy): presigned URLs sign the Host.
   */
  preserveHost: boolean;
  /**
   * When the target cannot be reached, drop the client's connection (as a TCP proxy would:
   * the client sees no answer) instead of answering 502.
   */
  resetWhenTargetDown: boolean;
}

export interface FaultProxyStats {
  partPuts: number;
  forwardedOk: number;
  resets: number;
  injected500: number;
  hangs: number;
  delayed: number;
  upstreamErrors: number;
}

export interface FaultProxy {
  url: string;
  stats: FaultProxyStats;
  set(options: Partial<FaultProxyOptions>): void;
  close(): Promise<void>;
}

/** A part PUT: the embedded store's URL, or an S3 UploadPart (partNumber and uploadId in the query). */
const PART_PATH = /\/storage\/uploads\/[^/]+\/parts\/\d+|[?&]partNumber=\d+/;

/** Mulberry32: a tiny seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultProxy(target: string, initial: Partial<FaultProxyOptions> = {}): Promise<FaultProxy> {
  const upstream = new URL(target);
  const options: FaultProxyOptions = {
    resetRate: 0,
    errorRate: 0,
    hangRate: 0,
    delayRate: 0,
    delayMs: 0,
    bytesPerSecond: 0,
    seed: 1,
    preserveHost: false,
    resetWhenTargetDown: false,
    ...initial,
  };
  let random = prng(options.seed);
  const stats: FaultProxyStats = {
    partPuts: 0,
    forwardedOk: 0,
    resets: 0,
    injected500: 0,
    hangs: 0,
    delayed: 0,
    upstreamErrors: 0,
  };
  let nextFree = 0;
  let self = '';
  const upstreamRequests = new Set<http.ClientRequest>();

  /** Waits until `n` more bytes fit in the shared budget. */
  async function throttle(n: number): Promise<void> {
    if (options.bytesPerSecond <= 0) return;
    const now = Date.now();
    const start = Math.max(now, nextFree);
    nextFree = start + (n * 1000) / options.bytesPerSecond;
    const wait = nextFree - now;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  const server = http.createServer((req, res) => {
    const isPart = req.method === 'PUT' && PART_PATH.test(req.url ?? '');
    let fault: 'reset' | '500' | 'hang' | undefined;
    let delay = 0;
    if (isPart) {
      stats.partPuts++;
      const r = random();
      if (r < options.resetRate) fault = 'reset';
      else if (r < options.resetRate + options.errorRate) fault = '500';
      else if (r < options.resetRate + options.errorRate + options.hangRate) fault = 'hang';
      if (random() < options.delayRate) {
        stats.delayed++;
        delay = options.delayMs;
      }
    }
    if (fault === '500') {
      stats.injected500++;
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ detail: 'injected by the fault proxy', code: 'INTERNAL_ERROR' }));
      });
      return;
    }
    if (fault === 'hang') {
      stats.hangs++;
      req.resume(); // swallow the body and never answer
      return;
    }
    const headers = options.preserveHost ? { ...req.headers } : { ...req.headers, host: upstream.host };
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (upRes) => {
        const type = String(upRes.headers['content-type'] ?? '');
        if (type.includes('application/json')) {
          // Rewrite absolute upload URLs so part PUTs come through here too.
          const chunks: Buffer[] = [];
          upRes.on('data', (c: Buffer) => chunks.push(c));
          upRes.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8').split(upstream.origin).join(self);
            const h = { ...upRes.headers };
            delete h['content-length'];
            delete h['transfer-encoding'];
            res.writeHead(upRes.statusCode ?? 502, { ...h, 'content-length': Buffer.byteLength(body) });
            res.end(body);
          });
          upRes.on('error', () => res.destroy());
          return;
        }
        if (isPart && upRes.statusCode === 200) stats.forwardedOk++;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    upstreamRequests.add(out);
    out.on('close', () => upstreamRequests.delete(out));
    // The client went away (or got an early answer and hung up): stop talking to the portal too.
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    out.on('error', () => {
      stats.upstreamErrors++;
      if (options.resetWhenTargetDown) {
        req.socket.destroy();
        return;
      }
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ detail: 'the fault proxy cannot reach the portal', code: 'BAD_GATEWAY' }));
      } else res.destroy();
    });
    let received = 0;
    const resetAfter = fault === 'reset' ? Math.floor(Number(req.headers['content-length'] ?? 0) / 2) : Infinity;
    (async () => {
      try {
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        out.flushHeaders();
        for await (const chunk of req as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (received > resetAfter) {
            stats.resets++;
            out.destroy();
            req.socket.resetAndDestroy();
            return;
          }
          await throttle(chunk.length);
          if (out.destroyed) return;
          if (!out.write(chunk)) {
            await new Promise<void>((r) => {
              const done = () => {
                out.off('drain', done);
                out.off('close', done);
                r();
              };
              out.on('drain', done);
              out.on('close', done);
            });
          }
        }
        out.end();
      } catch {
        out.destroy();
      }
    })();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: self,
    stats,
    set(next) {
      Object.assign(options, next);
      if (next.seed !== undefined) random = prng(next.seed);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        for (const out of upstreamRequests) out.destroy();
        server.close(() => resolve());
      }),
  };
}
