/** The test helpers' own promise: a portal starts even when its chosen port is taken meanwhile. */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, startTestPortal } from './portal.js';

describe('startTestPortal', () => {
  it('chooses another port when the first is taken before it listens', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as { port: number }).port;
    const chosen: number[] = [];
    const portal = await startTestPortal(
      {},
      {
        choosePort: async () => {
          const port = chosen.length === 0 ? taken : await freePort();
          chosen.push(port);
          return port;
        },
      },
    );
    try {
      expect(chosen).toHaveLength(2);
      expect(portal.url).toBe(`http://127.0.0.1:${chosen[1]}`);
      expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
    } finally {
      await portal.close();
      squatter.close();
    }
  });
});
