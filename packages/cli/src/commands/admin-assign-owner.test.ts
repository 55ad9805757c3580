/**
 * `speos-portal admin assign-owner`: tasks from before AUTH_TOKENS was set, hidden from
 * every user, given to one of them. The built CLI on a real portal's SQLite database.
 */
import { rm } from 'node:fs/promises';
import { TestApi } from '@speos-portal/test-support/api.js';
import { runCli } from '@speos-portal/test-support/cli.js';
import { startTestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ALICE = 'alice-token-0123456789';
const BOB = 'bob-token-0123456789ab';

describe('speos-portal admin assign-owner', () => {
  let dataDir: string;
  let before: string[];
  beforeAll(async () => {
    dataDir = await tempDir('speos-admin-');
    const open = await startTestPortal({}, { dataDir });
    const api = new TestApi(open.url);
    before = [];
    for (const name of ['one', 'two']) {
      const { init } = await api.uploadFile(Buffer.from(name), { filename: `${name}.speos` });
      await api.post('/tasks/upload/confirm', {
        task_id: init.task_id,
        master_object_key: init.object_key,
        job_name: name,
      });
      before.push(init.task_id);
    }
    await open.close();
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('gives ownerless tasks to one user, who then sees them; others still do not', async () => {
    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
    const auth = { AUTH_TOKENS: `${ALICE}:alice,${BOB}:bob` };
    let portal = await startTestPortal(auth, { dataDir });
    try {
      // Hidden from everyone while nobody owns them: what this command is for.
      expect((await new TestApi(portal.url, ALICE).get('/tasks')).body.total).toBe(0);
    } finally {
      await portal.close();
    }

    const dry = await runCli(['admin', 'assign-owner', '--owner', 'alice', '--unowned', '--dry-run'], env);
    expect(dry.stdout.trim()).toBe('2 tasks without an owner would go to alice');
    const one = await runCli(['admin', 'assign-owner', '--owner', 'alice', before[0]!], env);
    expect(one.code).toBe(0);
    expect(one.stdout.trim()).toBe('1 task without an owner now belongs to alice');
    const rest = await runCli(['admin', 'assign-owner', '--owner=alice', '--unowned'], env);
    expect(rest.stdout.trim()).toBe('1 task without an owner now belongs to alice');
    // Owned tasks never move to someone else.
    const again = await runCli(['admin', 'assign-owner', '--owner', 'bob', '--unowned'], env);
    expect(again.stdout.trim()).toBe('0 tasks without an owner now belong to bob');

    portal = await startTestPortal(auth, { dataDir });
    try {
      const alice = (await new TestApi(portal.url, ALICE).get('/tasks')).body;
      expect(alice.items.map((t: { task_id: string }) => t.task_id).sort()).toEqual([...before].sort());
      expect((await new TestApi(portal.url, ALICE).get(`/tasks/${before[0]}/files/master`)).status).toBe(200);
      expect((await new TestApi(portal.url, BOB).get('/tasks')).body.total).toBe(0);
    } finally {
      await portal.close();
    }
  });

  it('refuses a call without --owner or without tasks, with the usage', async () => {
    const env = { DATA_DIR: dataDir };
    const noOwner = await runCli(['admin', 'assign-owner', '--unowned'], env);
    expect(noOwner.code).toBe(2);
    expect(noOwner.stderr).toMatch(
      /^speos-portal admin: --owner is required\n\nUsage: speos-portal admin assign-owner/,
    );
    const nothing = await runCli(['admin', 'assign-owner', '--owner', 'alice'], env);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr.split('\n')[0]).toBe('speos-portal admin: give either --unowned or TASK_IDs');
  });
});
