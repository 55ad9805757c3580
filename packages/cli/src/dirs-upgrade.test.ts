/**
 * An upload interrupted by CLI 0.1 (which kept states in ~/.local/state/speos-portal on every
 * OS) resumes after the update, which keeps them in the OS's own folder: on macOS (looked like
 * here: process.platform, test-support/as-platform.mjs) the built CLI moves the state to
 * ~/Library/Application Support/speos-portal and sends only the parts the server lacks.
 */
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MIB } from '@speos-portal/protocol';
import { partsSaved, savedStates, waitFor } from '@speos-portal/test-support/cli.js';
import { startFaultProxy } from '@speos-portal/test-support/fault-proxy.js';
import { md5Stored, metric, writeRandomFile } from '@speos-portal/test-support/files.js';
import { AS_PLATFORM } from '@speos-portal/test-support/paths.js';
import { startTestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BUILT = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const AS_PLATFORM_URL = pathToFileURL(AS_PLATFORM).href;

let dir: string;
beforeAll(async () => {
  dir = await tempDir('speos-cli-upgrade-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function startOnMac(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', AS_PLATFORM_URL, BUILT, ...args], {
    env: { ...process.env, SPEOS_PORTAL_URL: '', SPEOS_PORTAL_TOKEN: '', FAKE_PLATFORM: 'darwin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, stdout: () => out, stderr: () => err };
}

describe('updating the CLI keeps interrupted uploads', () => {
  it('a 0.1 state in ~/.local/state moves to ~/Library on macOS and the upload resumes', async () => {
    const PARTS = 6;
    const portal = await startTestPortal();
    const proxy = await startFaultProxy(portal.url, { bytesPerSecond: 12 * MIB });
    try {
      const home = path.join(dir, 'home');
      const legacy = path.join(home, '.local/state/speos-portal');
      const current = path.join(home, 'Library/Application Support/speos-portal');
      const file = path.join(dir, 'lamp.speos');
      const md5 = await writeRandomFile(file, PARTS * 5 * MIB - 99);
      const env = { HOME: home, SPEOS_PORTAL_CONFIG: path.join(home, 'config.json') };
      const args = ['upload', file, '--job-name', 'upgrade', '--server', proxy.url];

      // 0.1 wrote here on every OS: SPEOS_PORTAL_STATE_DIR points the run at that folder.
      const old = startOnMac([...args, '--json'], { ...env, SPEOS_PORTAL_STATE_DIR: legacy });
      await waitFor(async () => (await partsSaved(legacy)) >= 2, 30_000, '2 parts');
      old.child.kill('SIGKILL');
      await old.exited;
      await new Promise((r) => setTimeout(r, 500)); // a part already through may still be landing
      const [saved] = await savedStates(legacy);
      expect(saved).toBeDefined();

      proxy.set({ bytesPerSecond: 0 });
      const updated = startOnMac(args, env);
      const { code } = await updated.exited;
      expect(updated.stderr()).toContain(`moved 1 saved upload from ${legacy} to ${current}`);
      expect(updated.stderr()).toContain(`submitted task ${saved?.task_id} (PENDING): upgrade`);
      expect(code).toBe(0);
      // Resumed, not restarted: every part was stored once across both runs.
      expect(await metric(portal.url, 'speos_upload_parts_stored_total')).toBe(PARTS);
      expect(await md5Stored(portal.url, saved?.task_id ?? '')).toBe(md5);
      await expect(readdir(legacy)).rejects.toThrow(/ENOENT/);
      expect(await savedStates(current)).toEqual([]);
    } finally {
      await proxy.close();
      await portal.close();
    }
  });
});
