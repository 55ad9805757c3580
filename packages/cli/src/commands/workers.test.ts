/**
 * `speos-portal workers`, `tasks show`'s reason a job waits, and `serve`'s start-up warning:
 * the built CLI against real portals. The in-process worker's solver is never started here
 * (no task is submitted to it), so no test double is needed.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TestApi } from '@speos-portal/test-support/api.js';
import { runCli, waitFor } from '@speos-portal/test-support/cli.js';
import { spawnPortal, startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import stringWidth from 'string-width';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('speos-portal workers', () => {
  it('says no worker is online, and tasks show says why a job waits', async () => {
    const portal = await startTestPortal();
    try {
      const env = { SPEOS_PORTAL_URL: portal.url };
      const none = await runCli(['workers'], env);
      expect(none.code).toBe(0);
      expect(none.stdout.trim()).toBe(
        'No worker is online: submitted jobs wait until one starts (README, "Running SPEOS jobs").',
      );
      const api = new TestApi(portal.url);
      const { init } = await api.uploadFile(Buffer.from('model'), { filename: 'model.speos' });
      await api.post('/tasks/upload/confirm', {
        task_id: init.task_id,
        master_object_key: init.object_key,
        job_name: 'headlamp',
      });
      const shown = await runCli(['tasks', 'show', init.task_id], env);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/^waiting: {4}No worker is online/m);
      expect(shown.stdout).toMatch(/^ {2}\S+ \S+ {2}PENDING {2}submitted$/m);
      // The server's notes in the user's language: from LANG, or --lang over it.
      const chinese = await runCli(['tasks', 'show', init.task_id], { ...env, LANG: 'zh_CN.UTF-8' });
      expect(chinese.stdout).toMatch(/^waiting: {4}没有在线的计算节点/m);
      expect(chinese.stdout).toMatch(/^ {2}\S+ \S+ {2}PENDING {2}已提交$/m);
      const english = await runCli(['tasks', 'show', init.task_id, '--lang', 'en'], { ...env, LANG: 'zh_CN.UTF-8' });
      expect(english.stdout).toMatch(/PENDING {2}submitted$/m);
      const malformed = await runCli(['tasks', 'show', 'not-a-task'], env);
      expect(malformed.code).toBe(1);
      expect(malformed.stderr).toContain('speos-portal tasks: no such task "not-a-task"');
      const badLang = await runCli(['tasks', 'show', init.task_id, '--lang', 'fr'], env);
      expect(badLang.code).toBe(2);
      expect(badLang.stderr.trim()).toBe('speos-portal tasks: --lang must be zh or en, got "fr"');
      const json = await runCli(['workers', '--json'], env);
      expect(JSON.parse(json.stdout)).toEqual({ items: [], online: 0 });
      const bad = await runCli(['workers', 'extra'], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim()).toBe('speos-portal workers: unexpected argument "extra"');
    } finally {
      await portal.close();
    }
  });

  describe('with a worker running', () => {
    let portal: TestPortal;
    beforeAll(async () => {
      portal = await startTestPortal({ SPEOS_COMMAND_V252: 'speos {master}', WORKER_SLOTS: '3', WORKER_ID: 'lab-7' });
    });
    afterAll(() => portal.close());

    it('lists it as online with its versions and slots', async () => {
      const env = { SPEOS_PORTAL_URL: portal.url };
      await waitFor(
        async () => (await new TestApi(portal.url).get('/workers')).body.online === 1,
        20_000,
        'the worker to be online',
      );
      const { code, stdout } = await runCli(['workers'], env);
      expect(code).toBe(0);
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^WORKER +HOST +VERSIONS +RUNNING +LAST HEARTBEAT \(UTC\) +STATE$/);
      expect(lines[1]).toMatch(/^lab-7 +\S+ +v252 +0\/3 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +online$/);
      expect(lines[2]).toBe('1 worker online');
    });
  });
});

describe('what a newcomer tripped over in the CLI', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal({ MAX_THREAD_COUNT: '64' });
  });
  afterAll(() => portal.close());

  it("says the server's thread limit for --threads 0", async () => {
    const dir = await tempDir('speos-cli-threads-');
    const file = path.join(dir, 'model.speos');
    await writeFile(file, 'model');
    const { code, stderr } = await runCli(['upload', file, '--job-name', 'x', '--threads', '0'], {
      SPEOS_PORTAL_URL: portal.url,
      SPEOS_PORTAL_STATE_DIR: dir,
    });
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('speos-portal upload: --threads must be between 1 and 64 on this server, got 0');
  });

  it('answers an unknown option with one line and the usage', async () => {
    const { code, stderr } = await runCli(['tasks', 'list', '--bogus'], { SPEOS_PORTAL_URL: portal.url });
    expect(code).toBe(2);
    const [first, blank, usage] = stderr.split('\n');
    expect(first).toBe('speos-portal tasks: unknown option --bogus');
    expect(blank).toBe('');
    expect(usage).toMatch(/^Usage: speos-portal tasks/);
    const missing = await runCli(['upload', 'a.speos', '--job-name'], {});
    expect(missing.stderr.split('\n')[0]).toBe('speos-portal upload: --job-name needs a value');
  });

  it('lists a retry under its display name, as the web UI does, aligned after Chinese names', async () => {
    const api = new TestApi(portal.url);
    const { init } = await api.uploadFile(Buffer.from('model'), { filename: 'model.speos' });
    await api.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: '车灯',
    });
    expect((await api.post(`/tasks/${init.task_id}/stop`, {})).status).toBe(200);
    const retry = await api.post(`/tasks/${init.task_id}/retry`, { display_name: '车灯 第二次' });
    expect(retry.status).toBe(200);
    const { code, stdout } = await runCli(['tasks', 'list'], { SPEOS_PORTAL_URL: portal.url });
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    const header = lines[0]!;
    const row = lines.find((l) => l.startsWith(retry.body.new_task_id))!;
    expect(row).toContain('车灯 第二次');
    // The CREATED column starts at the same terminal column as its heading, after a Chinese name.
    const created = row.search(/\d{4}-\d\d-\d\d \d\d:/);
    expect(stringWidth(row.slice(0, created))).toBe(stringWidth(header.slice(0, header.indexOf('CREATED'))));
  });
});

describe('speos-portal serve without a solver command', () => {
  it('warns at start-up that submitted jobs will wait for a worker', async () => {
    const dir = await tempDir('speos-no-worker-');
    const portal = await spawnPortal(dir, { SPEOS_COMMAND: '', SPEOS_COMMAND_V252: '' });
    try {
      await waitFor(async () => portal.output().includes('runs no worker'), 20_000, 'the warning');
      expect(portal.output()).toContain('submitted jobs wait until a worker starts');
    } finally {
      portal.child.kill('SIGTERM');
      await portal.exited;
    }
  });
});
