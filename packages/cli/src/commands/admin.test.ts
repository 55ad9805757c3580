/** `speos-portal admin usage`: the built CLI against a real portal with quotas and tokens. */

import { TestApi } from '@speos-portal/test-support/api.js';
import { runCli } from '@speos-portal/test-support/cli.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ADMIN = 'admin-token-0123456789';
const ALICE = 'alice-token-0123456789';

describe('speos-portal admin usage', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal({
      AUTH_TOKENS: `${ADMIN}:root,${ALICE}:alice`,
      ADMIN_USERS: 'root',
      USER_QUOTA_BYTES: '4194304',
    });
    const alice = new TestApi(portal.url, ALICE);
    expect((await alice.init({ filename: 'a.zip', file_size: 1048576 })).status).toBe(200);
  });
  afterAll(async () => {
    await portal?.close();
  });

  it('lists every user with their share of the quota, for an admin', async () => {
    const run = await runCli(['admin', 'usage'], { SPEOS_PORTAL_URL: portal.url, SPEOS_PORTAL_TOKEN: ADMIN });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/USER\s+EMAIL\s+STORED\s+OF QUOTA/);
    expect(run.stdout).toMatch(/alice\s+1\.0 MiB\s+25 %/);
    expect(run.stdout).toContain('1 user; 1.0 MiB stored in all; quota 4.0 MiB each');
    const json = await runCli(['admin', 'usage', '--json'], {
      SPEOS_PORTAL_URL: portal.url,
      SPEOS_PORTAL_TOKEN: ADMIN,
    });
    expect(JSON.parse(json.stdout)).toMatchObject({ quota_bytes: 4194304, total_bytes: 1048576 });
  });

  it('refuses a non-admin in one line, and shows their own usage with --mine', async () => {
    const env = { SPEOS_PORTAL_URL: portal.url, SPEOS_PORTAL_TOKEN: ALICE };
    const denied = await runCli(['admin', 'usage'], env);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('(FORBIDDEN)');
    const mine = await runCli(['admin', 'usage', '--mine'], env);
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout.trim()).toBe('1.0 MiB stored of 4.0 MiB (25 %)');
    expect((await runCli(['admin', 'nonsense'], env)).code).toBe(2);
    // An unknown option: one line, then the usage, as every other command says it.
    const bogus = await runCli(['admin', 'usage', '--bogus'], env);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/^speos-portal: unknown option --bogus\n\nUsage: speos-portal admin/);
  });
});
