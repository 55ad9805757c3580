/** /downloads: the command-line tool's builds, served by a real portal from CLI_DOWNLOADS_DIR. */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let portal: TestPortal;
const linux = randomBytes(300_000);
beforeAll(async () => {
  dir = await tempDir('speos-downloads-');
  const downloads = path.join(dir, 'cli');
  await mkdir(downloads);
  await writeFile(path.join(downloads, 'speos-portal-linux-x64'), linux);
  await writeFile(path.join(downloads, 'speos-portal-cli.tgz'), 'tgz');
  await writeFile(path.join(dir, 'secret.txt'), 'not for download');
  // With tokens on: downloads must still be public.
  portal = await startTestPortal({ CLI_DOWNLOADS_DIR: downloads, AUTH_TOKENS: 'a-token-of-16-chars-or-more:alice' });
});
afterAll(async () => {
  await portal?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /downloads', () => {
  it('lists the builds that exist, without a token', async () => {
    const res = await fetch(`${portal.url}/downloads`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      files: [
        {
          name: 'speos-portal-linux-x64',
          os: 'linux',
          arch: 'x64',
          kind: 'executable',
          size: linux.length,
          url: '/downloads/speos-portal-linux-x64',
        },
        {
          name: 'speos-portal-cli.tgz',
          os: 'any',
          arch: 'any',
          kind: 'npm',
          size: 3,
          url: '/downloads/speos-portal-cli.tgz',
        },
      ],
    });
  });

  it('serves a build byte for byte as an attachment', async () => {
    const res = await fetch(`${portal.url}/downloads/speos-portal-linux-x64`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="speos-portal-linux-x64"');
    expect(res.headers.get('content-length')).toBe(String(linux.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(linux)).toBe(true);
    const head = await fetch(`${portal.url}/downloads/speos-portal-cli.tgz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/gzip');
  });

  it('unknown names, builds not made here and other files: 404 with a detail', async () => {
    for (const [name, detail] of [
      ['speos-portal-win-x64.exe', /^speos-portal-win-x64\.exe is not built on this server; .*npm run package:cli$/],
      ['secret.txt', /^no download named "secret\.txt"; GET \/downloads lists them/],
      ['..%2Fsecret.txt', /^no download named "\.\.\/secret\.txt"/],
    ] as const) {
      const res = await fetch(`${portal.url}/downloads/${name}`);
      expect(res.status, name).toBe(404);
      const body = (await res.json()) as { code: string; detail: string };
      expect(body.code).toBe('NOT_FOUND');
      expect(body.detail).toMatch(detail);
    }
  });
});
