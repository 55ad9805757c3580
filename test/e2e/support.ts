/**
 * Browser-test helpers: a real Chromium (Debian's, through playwright-core) against a real
 * portal serving the built UI. Tests skip, saying why, when Chromium or the build is missing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.mjs';

export const CHROMIUM = CHROMIUM_PATH;
export const WEB_DIST = fileURLToPath(new URL('../../packages/web/dist', import.meta.url));
export const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots', import.meta.url));

/** Why the browser tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  if (!existsSync(CHROMIUM))
    return `no Chromium at ${CHROMIUM} (apt-get install -y --no-install-recommends chromium fonts-liberation fonts-noto-cjk)`;
  if (!existsSync(path.join(WEB_DIST, 'index.html')))
    return `the web UI is not built (${WEB_DIST}/index.html missing; run npm run build -w @speos-portal/web)`;
  return undefined;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh profile each time: no saved uploads, no remembered language. */
export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(path.join(tmpdir(), 'speos-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale: 'en-US',
    viewport: { width: 1280, height: 900 },
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** A file of random bytes (random, so the resume content check compares real data). */
export async function makeFile(dir: string, name: string, size: number): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, randomBytes(size));
  return file;
}

export const MiB = 1024 * 1024;

/** `speos_upload_parts_stored_total` from /metrics: parts the server stored, ever. */
export async function partsStored(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const match = /^speos_upload_parts_stored_total(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
  if (!match) throw new Error(`no speos_upload_parts_stored_total in /metrics:\n${text.slice(0, 500)}`);
  return Number(match[1]);
}

/** Slows the page's uploads (Chromium's own network emulation), e.g. to reload mid-upload; -1 lifts it. */
export async function throttleUploads(page: Page, bytesPerSecond: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}

/** Saved upload records (`upload_${task_id}`) in the page's localStorage. */
export async function savedUploads(
  page: Page,
): Promise<{ task_id: string; upload_id: string; object_key: string; uploaded_parts: [number, string][] }[]> {
  return page.evaluate(() =>
    Object.keys(localStorage)
      .filter((k) => k.startsWith('upload_'))
      .map((k) => JSON.parse(localStorage.getItem(k) ?? 'null')),
  );
}

/**
 * Opens the submit form in English, picks `file`, names the job, throttles uploads to
 * `bytesPerSecond` and submits; resolves once the first part is saved in localStorage
 * (the upload is under way, and an outage starting now begins mid-upload).
 */
export async function startFormUpload(
  page: Page,
  portalUrl: string,
  file: string,
  jobName: string,
  bytesPerSecond: number,
): Promise<void> {
  await page.goto(`${portalUrl}/#/submit`);
  await page.getByRole('button', { name: 'English', exact: true }).click();
  await page.getByLabel('Master file').setInputFiles(file);
  await page.getByLabel('Job name').fill(jobName);
  await throttleUploads(page, bytesPerSecond);
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  await until('a part saved', async () => (await savedUploads(page))[0]?.uploaded_parts.length);
}

/** The whole page, or with `{ fullPage: false }` the viewport only (a modal dialog's backdrop covers just that). */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: options.fullPage ?? true });
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface UploadRef {
  task_id: string;
  upload_id: string;
  object_key: string;
}

/** POST /tasks/upload/multipart/list: the server's parts of an upload, or the HTTP status when it has none. */
export async function listParts(baseUrl: string, ref: UploadRef): Promise<{ status: number; parts: unknown[] }> {
  const response = await fetch(`${baseUrl}/tasks/upload/multipart/list`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ task_id: ref.task_id, upload_id: ref.upload_id, object_key: ref.object_key }),
  });
  const body = (await response.json()) as { parts?: unknown[] };
  return { status: response.status, parts: body.parts ?? [] };
}

async function postJson<T>(url: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * A small job submitted straight through the API (init → PUT → complete → confirm), for list
 * tests; `content` is the master file (random bytes unless given, e.g. a fake solver's plan),
 * `token` the bearer when the portal has auth on.
 */
export async function submitViaApi(
  baseUrl: string,
  fields: { job_name: string; submitter?: string },
  content: Uint8Array<ArrayBuffer> = randomBytes(1024),
  token?: string,
): Promise<string> {
  const bytes = content;
  const init = await postJson<{
    task_id: string;
    upload_id: string;
    object_key: string;
    parts: { part_number: number; upload_url: string }[];
  }>(
    `${baseUrl}/tasks/upload/multipart/init`,
    { filename: `${fields.job_name}.speos`, file_size: bytes.length },
    token,
  );
  const put = await fetch(init.parts[0]!.upload_url, { method: 'PUT', body: bytes });
  const etag = put.headers.get('etag') ?? '';
  const ref = { task_id: init.task_id, upload_id: init.upload_id, object_key: init.object_key };
  await postJson(
    `${baseUrl}/tasks/upload/multipart/complete`,
    {
      ...ref,
      file_type: 'master',
      parts: [{ part_number: 1, etag }],
    },
    token,
  );
  await postJson(
    `${baseUrl}/tasks/upload/confirm`,
    {
      task_id: init.task_id,
      master_object_key: init.object_key,
      ...fields,
    },
    token,
  );
  return init.task_id;
}

/** An upload begun and aborted through the API: a task in status ABORTED. */
export async function abortedViaApi(baseUrl: string): Promise<string> {
  const init = await postJson<{ task_id: string; upload_id: string; object_key: string }>(
    `${baseUrl}/tasks/upload/multipart/init`,
    { filename: 'aborted.speos', file_size: 1024 },
  );
  await postJson(`${baseUrl}/tasks/upload/multipart/abort`, {
    task_id: init.task_id,
    upload_id: init.upload_id,
    object_key: init.object_key,
  });
  return init.task_id;
}
