/**
 * The built CLI against real portals: killed mid-upload and re-run, server restarted
 * mid-upload, file changed between runs. Needs `npm run build` (npm test does it).
 */
import { open, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { PortalClient } from '@speos-portal/client';
import { MIB } from '@speos-portal/protocol';
import { partsSaved, runCli, savedStates, startCli, waitFor } from '@speos-portal/test-support/cli.js';
import { startFaultProxy } from '@speos-portal/test-support/fault-proxy.js';
import { md5File, md5Stored, metric, writeRandomFile } from '@speos-portal/test-support/files.js';
import { freePort, spawnPortal, startTestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('speos-cli-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const PARTS = 8;
const SIZE = 8 * 5 * MIB - 4321; // 8 parts, the last one short

describe('speos-portal upload', () => {
  it('resumes after SIGKILL, re-sending only the parts the server lacked; byte-identical', async () => {
    const portal = await startTestPortal();
    const proxy = await startFaultProxy(portal.url, { bytesPerSecond: 12 * MIB });
    try {
      const file = path.join(dir, 'killed.speos');
      const md5 = await writeRandomFile(file, SIZE);
      const stateDir = path.join(dir, 'state-kill');
      const args = [
        'upload',
        file,
        '--job-name',
        'kill test',
        '--server',
        proxy.url,
        '--state-dir',
        stateDir,
        '--json',
      ];
      const first = startCli(args);
      await waitFor(async () => (await partsSaved(stateDir)) >= 3, 30_000, '3 parts');
      first.child.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
      // A part whose bytes were all through may still be landing on the server (hashed and
      // fsynced after the client died; with the adaptive concurrency up to 8 of them, and
      // slowly on a loaded machine): wait until the stored count holds still for 3 s.
      for (let stable = 0, last = -1; stable < 3; ) {
        const now = await metric(portal.url, 'speos_upload_parts_stored_total');
        stable = now === last ? stable + 1 : 0;
        last = now;
        await new Promise((r) => setTimeout(r, 1000));
      }

      const [saved] = await savedStates(stateDir);
      const api = new PortalClient({ baseUrl: portal.url });
      const s = saved as unknown as { task_id: string; upload_id: string; object_key: string };
      const onServer = (await api.list({ task_id: s.task_id, upload_id: s.upload_id, object_key: s.object_key })).parts
        .length;
      expect(onServer).toBeLessThan(PARTS);
      const storedBefore = await metric(portal.url, 'speos_upload_parts_stored_total');
      expect(storedBefore).toBe(onServer); // parts cut off by the kill were never stored

      proxy.set({ bytesPerSecond: 0 });
      const second = await runCli(args);
      expect(second.stderr).toBe('');
      expect(second.code).toBe(0);
      const result = JSON.parse(second.stdout);
      expect(result).toMatchObject({ task_id: s.task_id, status: 'PENDING', master: { resumed: true } });
      expect(result.master.parts_sent).toBe(PARTS - onServer);
      // Across both runs every part was stored exactly once.
      expect(await metric(portal.url, 'speos_upload_parts_stored_total')).toBe(PARTS);
      expect(await md5Stored(portal.url, s.task_id)).toBe(md5);
      expect(await savedStates(stateDir)).toEqual([]);
    } finally {
      await proxy.close();
      await portal.close();
    }
  });

  it('completes when the server is killed and restarted mid-upload (same DATA_DIR and port)', async () => {
    const dataDir = await tempDir('speos-restart-');
    const port = await freePort();
    let server = await spawnPortal(dataDir, {}, port);
    const proxy = await startFaultProxy(server.url, { bytesPerSecond: 12 * MIB });
    try {
      const file = path.join(dir, 'restart.speos');
      const md5 = await writeRandomFile(file, SIZE);
      const stateDir = path.join(dir, 'state-restart');
      const run = startCli([
        'upload',
        file,
        '--job-name',
        'restart',
        '--server',
        proxy.url,
        '--state-dir',
        stateDir,
        '--verbose',
      ]);
      await waitFor(async () => (await partsSaved(stateDir)) >= 2, 30_000, '2 parts');
      server.child.kill('SIGKILL');
      await server.exited;
      await new Promise((r) => setTimeout(r, 500));
      server = await spawnPortal(dataDir, {}, port);
      const { code } = await run.exited;
      expect(run.stderr()).toMatch(/submitted task/);
      // --verbose told what happened while the server was away.
      expect(run.stderr()).toMatch(/attempt 1: HTTP 502.*; retrying in \d+\.\d s\n/);
      expect(code).toBe(0);
      const taskId = /submitted task ([0-9a-f-]{36})/.exec(run.stderr())![1]!;
      expect(await md5Stored(server.url, taskId)).toBe(md5);
    } finally {
      await proxy.close();
      server.child.kill('SIGKILL');
      await server.exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('detects a file changed between runs: same mtime → clear error; new mtime → fresh upload', async () => {
    const portal = await startTestPortal();
    const proxy = await startFaultProxy(portal.url, { bytesPerSecond: 12 * MIB });
    try {
      const file = path.join(dir, 'changed.speos');
      await writeRandomFile(file, SIZE);
      const stateDir = path.join(dir, 'state-changed');
      const args = ['upload', file, '--job-name', 'changed', '--server', proxy.url, '--state-dir', stateDir];
      const first = startCli(args);
      // The edit below is inside part 1: it must be among the saved parts (parts finish in any order).
      const part1Saved = async () =>
        (await savedStates(stateDir)).some((state) => state.uploaded_parts.some(([n]) => n === 1));
      await waitFor(
        async () => (await partsSaved(stateDir)) >= 2 && (await part1Saved()),
        30_000,
        'part 1 and another',
      );
      first.child.kill('SIGINT'); // Ctrl-C: saved, says how to resume
      expect((await first.exited).code).toBe(130);
      expect(first.stderr()).toMatch(/interrupted; progress is saved, run the same command again to resume\n$/);

      // Edit bytes inside part 1, keep size and mtime: only the content check can notice.
      const before = await stat(file);
      const handle = await open(file, 'r+');
      await handle.write(Buffer.from('EDITED'), 0, 6, 100);
      await handle.close();
      await utimes(file, before.atime, before.mtime);
      proxy.set({ bytesPerSecond: 0 });
      const second = await runCli(args);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(
        /^speos-portal upload: changed\.speos changed since its upload began .* part 1 .*start a new upload\.\n$/,
      );

      // Touch it (a real edit changes the mtime): the old upload is dropped, a new one made.
      await utimes(file, new Date(), new Date());
      const third = await runCli([...args, '--json']);
      expect(third.code).toBe(0);
      const result = JSON.parse(third.stdout);
      expect(result.master.resumed).toBe(false);
      expect(await md5Stored(portal.url, result.task_id)).toBe(await md5File(file));
    } finally {
      await proxy.close();
      await portal.close();
    }
  });

  it('uploads an include archive with the master and submits both', async () => {
    const portal = await startTestPortal();
    try {
      const file = path.join(dir, '模型.speos');
      const archive = path.join(dir, 'inputs.zip');
      const md5 = await writeRandomFile(file, 6 * MIB);
      const md5Include = await writeRandomFile(archive, 1234);
      const stateDir = path.join(dir, 'state-include');
      const { code, stdout, stderr } = await runCli(
        ['upload', file, '--job-name', '前照灯', '--include', archive, '--threads', '4', '--priority', '3', '--json'],
        { SPEOS_PORTAL_URL: portal.url, SPEOS_PORTAL_STATE_DIR: stateDir },
      );
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const { task_id } = JSON.parse(stdout);
      expect(await md5Stored(portal.url, task_id)).toBe(md5);
      expect(await md5Stored(portal.url, task_id, 'include')).toBe(md5Include);
      const show = await runCli(['tasks', 'show', task_id, '--server', portal.url]);
      expect(show.code).toBe(0);
      expect(show.stdout).toMatch(/status: +PENDING/);
      expect(show.stdout).toMatch(/job: +前照灯/);
      expect(show.stdout).toMatch(/include: +inputs\.zip/);
      const list = await runCli(['tasks', 'list', '--server', portal.url]);
      expect(list.stdout).toContain(task_id);
      expect(list.stdout).toMatch(/1 task; page 1 of 1/);
    } finally {
      await portal.close();
    }
  });

  it('fails with one line and a non-zero code: bad file, unreachable server, server validation, bad token', async () => {
    const portal = await startTestPortal({ AUTH_TOKENS: 'a-very-long-token-123:alice' });
    try {
      const file = path.join(dir, 'small.speos');
      await writeRandomFile(file, 1000);
      const missing = await runCli(['upload', path.join(dir, 'nope.speos'), '--job-name', 'x']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^speos-portal upload: .*nope\.speos: no such file\n$/);

      const port = await freePort();
      const down = await runCli([
        'upload',
        file,
        '--job-name',
        'x',
        '--server',
        `http://127.0.0.1:${port}`,
        '--max-wait',
        '0',
      ]);
      expect(down.code).toBe(1);
      expect(down.stderr).toMatch(/^speos-portal upload: server unreachable: .*ECONNREFUSED.*\n$/);

      // A file the worker cannot open is refused before connecting (the port is closed).
      const step = path.join(dir, 'model.step');
      await writeRandomFile(step, 10);
      const wrongMaster = await runCli(['upload', step, '--job-name', 'x', '--server', `http://127.0.0.1:${port}`]);
      expect(wrongMaster.code).toBe(2);
      expect(wrongMaster.stderr).toMatch(
        /^speos-portal upload: The master file "model\.step" is not a type the worker can open; it must be a SPEOS model \(\.speos, \.sv5, \.scdocx\) or an archive .*\.rar.*\n$/,
      );
      const wrongInclude = await runCli([
        'upload',
        file,
        '--include',
        step,
        '--job-name',
        'x',
        '--server',
        `http://127.0.0.1:${port}`,
      ]);
      expect(wrongInclude.code).toBe(2);
      expect(wrongInclude.stderr).toContain('The include file "model.step" is not a type the worker can open');

      const anonymous = await runCli(['upload', file, '--job-name', 'x', '--server', portal.url]);
      expect(anonymous.code).toBe(1);
      expect(anonymous.stderr).toMatch(/^speos-portal upload: the server at .* requires a valid token .*\n$/);

      const env = { SPEOS_PORTAL_URL: portal.url, SPEOS_PORTAL_TOKEN: 'a-very-long-token-123' };
      const invalid = await runCli(['tasks', 'list', '--status', 'BOGUS'], env);
      expect(invalid.code).toBe(1);
      expect(invalid.stderr).toMatch(/^speos-portal tasks: .*status.*\(VALIDATION_FAILED\)\n$/);

      const usage = await runCli(['upload', file], env);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toBe('speos-portal upload: --job-name is required\n');

      const ok = await runCli(
        ['upload', file, '--job-name', 'auth ok', '--json', '--state-dir', path.join(dir, 's')],
        env,
      );
      expect(ok.code).toBe(0);
    } finally {
      await portal.close();
    }
  });

  it('waits --max-wait for a server that does not answer, saying so, then fails with one line', async () => {
    const file = path.join(dir, 'patient.speos');
    await writeRandomFile(file, 1000);
    const port = await freePort();
    const started = Date.now();
    const run = await runCli([
      'upload',
      file,
      '--job-name',
      'x',
      '--server',
      `http://127.0.0.1:${port}`,
      '--max-wait',
      '2s',
    ]);
    expect(run.code).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `waiting for the server at http://127.0.0.1:${port} (ECONNREFUSED); continuing by itself when it answers, for up to 2 s`,
    );
    expect(lines.at(-1)).toMatch(/^speos-portal upload: server unreachable: .*ECONNREFUSED/);
    for (const bad of ['soon', '-1', '8d']) {
      const usage = await runCli(['upload', file, '--job-name', 'x', '--max-wait', bad]);
      expect(usage.code, bad).toBe(2);
      expect(usage.stderr).toMatch(/--max-wait/);
    }
  });
});
