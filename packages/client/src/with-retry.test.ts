import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestApi } from '@speos-portal/test-support/api.js';
import { freePort, startTestPortal } from '@speos-portal/test-support/portal.js';
import { describe, expect, it } from 'vitest';
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

  it('retries a task-retry whose answer was lost with the same Idempotency-Key: one new task', async () => {
    const portal = await startTestPortal();
    // Forwards every request; the first retry's answer is dropped (the connection is cut
    // after the server has acted), as a flaky network or proxy would.
    let dropped = 0;
    const proxy = http.createServer((req, res) => {
      const upstream = http.request(
        `${portal.url}${req.url}`,
        { method: req.method, headers: req.headers },
        (answer) => {
          if (req.url?.endsWith('/retry') && dropped === 0) {
            dropped++;
            answer.resume();
            answer.on('end', () => req.socket.destroy());
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const server = new TestApi(portal.url);
      const form = await server.submitForm(
        { job_name: 'flaky' },
        { master_file: { data: Buffer.from('{}'), filename: 'm.speos' } },
      );
      await server.post(`/tasks/${form.body.task_id}/stop`, {});
      const api = new PortalClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
      const retried = await withRetry(
        (signal) => api.retryTask(form.body.task_id, {}, signal, { idempotencyKey: 'one-user-action' }),
        { policy: { maxAttempts: 3, baseDelayMs: 10 } },
      );
      expect(dropped).toBe(1);
      const original = (await server.get(`/tasks/${form.body.task_id}`)).body;
      expect(original.retried_task_ids).toEqual([retried.new_task_id]);
    } finally {
      proxy.close();
      proxy.closeAllConnections();
      await portal.close();
    }
  });
});
