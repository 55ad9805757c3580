/**
 * The browser entry, bundled for the browser (esbuild, platform "browser": any Node import
 * fails the build) and run in headless Chromium against a real portal on another origin:
 * XHR transport, Blob slices, localStorage state in the original spec's format, resume.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { md5Stored } from '@speos-portal/test-support/files.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH as CHROMIUM, CHROMIUM_ARGS } from '../../../test/chromium.mjs';

const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  // Loud, not silent: the summary counts it as skipped and this says why.
  console.warn(
    `SKIPPED browser test: no Chromium at ${CHROMIUM} (apt-get install -y --no-install-recommends chromium, or set CHROMIUM_PATH)`,
  );
}
let portal: TestPortal;
let site: http.Server;
let siteUrl: string;
let browser: Browser;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  portal = await startTestPortal();
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./index.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
  });
  const js = bundle.outputFiles[0]!.text;
  site = http.createServer((req, res) => {
    if (req.url === '/client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(js);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        '<!doctype html><title>speos upload test</title>' +
          '<script type="module">import * as c from "/client.js"; window.speosClient = c;</script>',
      );
    }
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
});

afterAll(async () => {
  await browser?.close();
  site?.close();
  await portal?.close();
});

describe.skipIf(!HAVE_CHROMIUM)('Uploader in Chromium', () => {
  it('uploads with XHR, saves the spec localStorage format, pauses and resumes in a new Uploader', async () => {
    const page = await browser.newPage();
    await page.goto(siteUrl);
    await page.waitForFunction(() => 'speosClient' in window);
    const result = await page.evaluate(async (portalUrl) => {
      // biome-ignore lint/suspicious/noExplicitAny: the bundle's exports, loaded by the page
      const c = (window as any).speosClient;
      // 12 MiB + 1 byte of random data → 3 parts of 5 MiB, last one short.
      const size = 12 * 1024 * 1024 + 1;
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
      const file = new File([bytes], '前照灯.speos', { lastModified: 1_700_000_000_000 });
      const md5 = new c.Md5().update(bytes).hex();
      const api = new c.PortalClient({ baseUrl: portalUrl });
      const make = () =>
        new c.Uploader({
          api,
          transport: new c.XhrTransport(),
          source: new c.BlobFileSource(file),
          store: new c.LocalStorageStateStore(),
          concurrency: 1,
          confirm: { job_name: 'browser' },
        });
      const first = make();
      const seen: number[][] = [[], []];
      first.on('progress', (p: { uploadedBytes: number }) => seen[0]!.push(p.uploadedBytes));
      first.on('part-done', () => first.pause());
      const paused = await first.start().catch((e: { code: string }) => e.code);
      const key = `upload_${first.taskId}`;
      const saved = JSON.parse(localStorage.getItem(key) ?? 'null');
      const second = make();
      let resumedWith = -1;
      second.on('resume', (r: { partsOnServer: number }) => {
        resumedWith = r.partsOnServer;
      });
      second.on('progress', (p: { uploadedBytes: number }) => seen[1]!.push(p.uploadedBytes));
      const done = await second.start();
      const monotonic = seen.every((values) => values.every((v, i) => i === 0 || v >= values[i - 1]!));
      const last = seen[1]!.at(-1);
      return {
        md5,
        paused,
        saved,
        resumedWith,
        taskId: done.taskId,
        status: done.confirm?.status,
        partsSent: done.partsSent,
        leftAfterDone: localStorage.getItem(key),
        monotonic,
        last,
        resumeEnabled: second.resumeEnabled,
      };
    }, portal.url);
    expect(result.paused).toBe('PAUSED');
    expect(result.saved).toMatchObject({
      task_id: result.taskId,
      upload_id: expect.any(String),
      object_key: expect.stringContaining('前照灯.speos'),
      uploaded_parts: [[1, expect.stringMatching(/^[0-9a-f]{32}$/)]],
      filename: '前照灯.speos',
      size: 12 * 1024 * 1024 + 1,
      lastModified: 1_700_000_000_000,
      chunk_size: 5 * 1024 * 1024,
      file_type: 'master',
    });
    expect(result).toMatchObject({ resumedWith: 1, partsSent: 2, status: 'PENDING', leftAfterDone: null });
    expect(result.resumeEnabled).toBe(true);
    expect(result.monotonic).toBe(true);
    expect(result.last).toBe(12 * 1024 * 1024 + 1);
    expect(await md5Stored(portal.url, result.taskId)).toBe(result.md5);
    await page.close();
  });
});
