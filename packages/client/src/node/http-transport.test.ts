import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeHttpTransport } from './http-transport.js';

describe('NodeHttpTransport.preconnect', () => {
  let server: http.Server;
  let url: string;
  let connections = 0;
  beforeAll(async () => {
    // Answers after 80 ms: with the connection's set-up on loopback, the "round trip" is ≥ 40 ms.
    server = http.createServer((_req, res) => setTimeout(() => res.end('{"status":"ok"}'), 80));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('opens the connections and says the round trip it saw (half the quickest request)', async () => {
    const transport = new NodeHttpTransport({ maxSockets: 8 });
    try {
      const rtt = await transport.preconnect(url, 3);
      expect(connections).toBe(3);
      expect(rtt).toBeGreaterThanOrEqual(40);
      expect(rtt).toBeLessThan(1000);
    } finally {
      transport.close();
    }
  });

  it('says nothing, and never fails, when nobody answers', async () => {
    const transport = new NodeHttpTransport();
    try {
      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      expect(await transport.preconnect(`http://127.0.0.1:${port}/healthz`, 2)).toBeUndefined();
      expect(await transport.preconnect('not a url', 2)).toBeUndefined();
    } finally {
      transport.close();
    }
  });
});
