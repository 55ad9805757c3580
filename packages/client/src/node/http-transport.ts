/**
 * Node part transport: a positional file stream piped into node:http(s) with Content-Length.
 * Not fetch: its web-stream body path cost about 3× the client CPU for part bodies.
 */
import http from 'node:http';
import https from 'node:https';
import { NetworkError } from '../errors.js';
import type { PartTransport, PutPartRequest, PutPartResponse } from '../transport.js';
import { NodeFileSource } from './file-source.js';

export interface NodeHttpTransportOptions {
  /**
   * Sockets kept per host; at least the uploader's concurrency.
   * @default 16
   */
  maxSockets?: number;
}

export class NodeHttpTransport implements PartTransport {
  readonly #http: http.Agent;
  readonly #https: https.Agent;
  readonly maxParallel: number;

  constructor(options: NodeHttpTransportOptions = {}) {
    const maxSockets = options.maxSockets ?? 16;
    this.maxParallel = maxSockets;
    this.#http = new http.Agent({ keepAlive: true, maxSockets });
    this.#https = new https.Agent({ keepAlive: true, maxSockets });
  }

  /**
   * Opens up to `count` keep-alive connections to `url`'s origin ahead of the parts, with a
   * small GET of `url` each, so the first parts find them open instead of each paying a TCP
   * (and TLS) handshake — a round trip that concurrency does not hide. Run it beside the
   * control-plane calls that precede the parts. Never fails: the parts connect by themselves.
   * Resolves to the round-trip time it saw (ms): half the quickest GET, which took two (the
   * connection's set-up and the request); undefined when none answered.
   */
  async preconnect(url: string, count: number): Promise<number | undefined> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return undefined;
    }
    const secure = target.protocol === 'https:';
    const one = () =>
      new Promise<number | undefined>((resolve) => {
        const started = performance.now();
        const req = (secure ? https : http).get(target, { agent: secure ? this.#https : this.#http }, (res) => {
          res.resume();
          res.on('end', () => resolve(performance.now() - started));
          res.on('error', () => resolve(undefined));
        });
        req.on('error', () => resolve(undefined));
        req.setTimeout(10_000, () => req.destroy());
      });
    const times = await Promise.all(Array.from({ length: Math.min(count, this.maxParallel) }, one));
    const answered = times.filter((t) => t !== undefined);
    return answered.length ? Math.min(...answered) / 2 : undefined;
  }

  /** Closes idle keep-alive sockets, so the process can exit. */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }

  putPart(request: PutPartRequest): Promise<PutPartResponse> {
    const { url, source, startByte, endByte, signal, onProgress, partNumber } = request;
    if (!(source instanceof NodeFileSource)) {
      return Promise.reject(new TypeError('NodeHttpTransport uploads NodeFileSource only'));
    }
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      const size = endByte - startByte;
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        body.destroy();
        req.destroy();
        reject(
          signal.aborted
            ? signal.reason
            : error instanceof NetworkError || error instanceof TypeError
              ? error
              : new NetworkError(`part ${partNumber}: ${(error as Error)?.message ?? String(error)}`, {
                  cause: error,
                }),
        );
      };
      const req = (secure ? https : http).request(target, {
        method: 'PUT',
        agent: secure ? this.#https : this.#http,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      });
      const body = source.read(startByte, endByte);
      let sent = 0;
      body.on('data', (chunk: Buffer | string) => {
        sent += chunk.length;
        onProgress(sent);
      });
      body.on('end', () => {
        if (sent !== size) {
          fail(new TypeError(`${source.path} is shorter than when the upload began (part ${partNumber}); it changed`));
        }
      });
      body.on('error', fail);
      req.on('error', fail);
      req.on('response', (res) => {
        // An early answer (403, 400) can come before the body is sent: stop sending it.
        body.unpipe(req);
        body.destroy();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          if (sent < size) req.destroy(); // the server may still expect bytes; do not reuse the socket
          const header = (name: string) => {
            const v = res.headers[name];
            return Array.isArray(v) ? v[0] : v;
          };
          resolve({
            status: res.statusCode ?? 0,
            etag: header('etag'),
            retryAfter: header('retry-after'),
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      });
      const onAbort = () => fail(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      body.pipe(req);
    });
  }
}
