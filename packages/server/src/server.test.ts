/**
 * The server as a process: `kill -9` after acknowledged parts loses nothing; SIGTERM lets
 * a part PUT in flight finish. Runs the built CLI (`npm test` builds first).
 */

import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { MiB, randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { freePort, md5, type PortalProcess, spawnPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { afterEach, describe, expect, it } from 'vitest';

const running: PortalProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function start(dataDir: string, port: number) {
  const portal = await spawnPortal(dataDir, {}, port);
  running.push(portal);
  return portal;
}

describe('the server process', () => {
  it('keeps every acknowledged part through kill -9 and finishes the upload after restart', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const port = await freePort();
    const data = randomBytesSeeded(23 * MiB + 17, 42); // 5 parts
    let portal = await start(dataDir, port);
    const api = new TestApi(portal.url);
    const init = (await api.init({ filename: '断电测试.zip', file_size: data.length })).body;
    const acknowledged: Record<number, string> = {};
    for (const part of init.parts.slice(0, 3)) {
      const put = await api.putPart(part.upload_url, data.subarray(part.start_byte, part.end_byte));
      expect(put.status).toBe(200);
      acknowledged[part.part_number] = put.etag!;
    }
    portal.child.kill('SIGKILL');
    expect(await portal.exited).toBe('SIGKILL');

    portal = await start(dataDir, port);
    const listed = await api.post('/tasks/upload/multipart/list', init);
    expect(listed.status).toBe(200);
    expect(
      Object.fromEntries(listed.body.parts.map((p: { part_number: number; etag: string }) => [p.part_number, p.etag])),
    ).toEqual(acknowledged);
    const parts = Object.entries(acknowledged).map(([n, etag]) => ({ part_number: Number(n), etag }));
    for (const part of init.parts.slice(3)) {
      const put = await api.putPart(part.upload_url, data.subarray(part.start_byte, part.end_byte));
      expect(put.status).toBe(200);
      parts.push({ part_number: part.part_number, etag: put.etag! });
    }
    const done = await api.post('/tasks/upload/multipart/complete', { ...init, parts });
    expect(done.status).toBe(200);
    portal.child.kill('SIGKILL'); // and once more after complete: the object survives too
    await portal.exited;
    portal = await start(dataDir, port);
    const download = await fetch(`${portal.url}/tasks/${init.task_id}/files/master`);
    expect(md5(Buffer.from(await download.arrayBuffer()))).toBe(md5(data));
    const confirmed = await api.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: '断电后提交',
    });
    expect(confirmed.status).toBe(200);
  });

  it('finishes a part PUT in flight on SIGTERM, then exits 0', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const portal = await start(dataDir, await freePort());
    const api = new TestApi(portal.url);
    const data = randomBytesSeeded(5 * MiB, 8);
    const init = (await api.init({ filename: 'slow.speos', file_size: data.length })).body;
    const url = new URL(init.parts[0].upload_url);
    const answer = new Promise<{ status: number; etag: string | undefined }>((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: { 'content-length': data.length } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, etag: res.headers.etag }));
      });
      req.on('error', reject);
      req.write(data.subarray(0, MiB));
      // Half-way through the body, the operator stops the server.
      setTimeout(() => {
        portal.child.kill('SIGTERM');
        setTimeout(() => req.end(data.subarray(MiB)), 500);
      }, 300);
    });
    const result = await answer;
    expect(result.status).toBe(200);
    expect(result.etag).toBe(`"${md5(data)}"`);
    expect(await portal.exited).toBe(0);
  });

  it('names a bad variable and exits 2 instead of starting', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    await expect(spawnPortal(dataDir, { PORT: 'eighty' })).rejects.toThrow(
      /PORT: expected a whole number, got "eighty"/,
    );
  });
});
