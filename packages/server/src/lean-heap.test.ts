/**
 * The server keeps V8's young generation small (src/lean-heap.ts) however it is started: its
 * own command and the CLI's `serve`. Read from /metrics (prom-client's heap-space gauges)
 * after the server has stored parts. An operator's own semi-space size in NODE_OPTIONS wins;
 * that case also shows the check can fail, since V8 left alone grows the space past the limit
 * while the server's modules load (32 MiB on Node 22, 64 MiB on Node 24).
 */
import { rm } from 'node:fs/promises';
import { MiB, randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { SERVER_BIN, spawnPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { describe, expect, it } from 'vitest';

/** Two 1 MiB semi-spaces at start; V8 may still grow them a step or two under load. */
const LEAN_LIMIT = 8 * MiB;

async function newSpaceBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^speos_nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(text);
  if (!match) throw new Error(`no new-space gauge in /metrics:\n${text.slice(0, 2000)}`);
  return Number(match[1]);
}

async function newSpaceAfterUpload(program: string | undefined, env: Record<string, string> = {}): Promise<number> {
  const dataDir = await tempDir('speos-lean-heap-');
  const portal = await spawnPortal(dataDir, env, undefined, program);
  try {
    await new TestApi(portal.url).uploadFile(randomBytesSeeded(12 * MiB, 9), { filename: 'model.speos' });
    return await newSpaceBytes(portal.url);
  } finally {
    portal.child.kill('SIGTERM');
    await portal.exited;
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe('the server heap', () => {
  it('keeps the young generation small when started as speos-portal-server serve', async () => {
    expect(await newSpaceAfterUpload(SERVER_BIN)).toBeLessThanOrEqual(LEAN_LIMIT);
  }, 120_000);

  it('keeps it small when started as speos-portal serve (the CLI loads the server in-process)', async () => {
    expect(await newSpaceAfterUpload(undefined)).toBeLessThanOrEqual(LEAN_LIMIT);
  }, 120_000);

  it("leaves an operator's own semi-space size alone", async () => {
    const bytes = await newSpaceAfterUpload(SERVER_BIN, { NODE_OPTIONS: '--max-semi-space-size=16' });
    expect(bytes).toBeGreaterThan(LEAN_LIMIT);
  }, 120_000);
});
