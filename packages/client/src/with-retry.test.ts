import { describe, expect, it } from 'vitest';
import { freePort, startTestPortal } from '../../server/src/test-support/portal.js';
import { PortalClient } from './api-client.js';
import { NetworkError, PortalApiError } from './errors.js';
import { withRetry } from './with-retry.js';

describe('withRetry + PortalClient', () => {
  it('retries a refused connection up to maxAttempts, then throws the NetworkError', async () => {
    const api = new PortalClient({ baseUrl: `http://127.0.0.1:${await freePort()}` });
    const attempts: number[] = [];
    const error = await withRetry((signal) => api.config(signal), {
      policy: { maxAttempts: 3, baseDelayMs: 10, maxWaitMs: 0 },
      onRetry: (attempt) => attempts.push(attempt),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('does not retry a 4xx and keeps the server’s detail and code', async () => {
    const portal = await startTestPortal();
    try {
      const api = new PortalClient({ baseUrl: portal.url });
      let retries = 0;
      const error = await withRetry((signal) => api.getTask('00000000-0000-4000-8000-000000000000', signal), {
        onRetry: () => retries++,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PortalApiError);
      expect(error).toMatchObject({ status: 404, code: 'TASK_NOT_FOUND' });
      expect(retries).toBe(1); // told once, with decision "fail"
    } finally {
      await portal.close();
    }
  });
});
