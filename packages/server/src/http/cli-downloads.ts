/**
 * `GET /downloads` lists the command-line tool's builds this server has, `GET /downloads/NAME`
 * serves one (`npm run package:cli` writes them to dist/cli/; CLI_DOWNLOADS_DIR elsewhere). Public:
 * people fetch the tool before they have a token. Only the fixed names below are ever served,
 * so no request can reach another file.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { sendError } from './errors.js';

/** dist/cli at the repository's root, where scripts/package-cli.mjs writes. */
export const DEFAULT_DOWNLOADS_DIR = fileURLToPath(new URL('../../../../dist/cli', import.meta.url));

export interface CliDownload {
  name: string;
  os: 'linux' | 'windows' | 'macos' | 'any';
  arch: 'x64' | 'arm64' | 'any';
  /** `executable`: runs by itself; `npm`: the package, for any OS with Node.js ≥ 22. */
  kind: 'executable' | 'npm';
}

export const CLI_DOWNLOADS: readonly CliDownload[] = [
  { name: 'speos-portal-win-x64.exe', os: 'windows', arch: 'x64', kind: 'executable' },
  { name: 'speos-portal-linux-x64', os: 'linux', arch: 'x64', kind: 'executable' },
  { name: 'speos-portal-macos-arm64', os: 'macos', arch: 'arm64', kind: 'executable' },
  { name: 'speos-portal-cli.tgz', os: 'any', arch: 'any', kind: 'npm' },
];

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const info = await stat(file);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

export async function registerDownloads(app: FastifyInstance, dir: string): Promise<void> {
  const root = path.resolve(dir);
  const route = { schema: { hide: true }, config: { public: true } };
  app.get('/downloads', route, async () => {
    const files = [];
    for (const download of CLI_DOWNLOADS) {
      const size = await sizeOf(path.join(root, download.name));
      if (size !== undefined) files.push({ ...download, size, url: `/downloads/${download.name}` });
    }
    return { files };
  });
  app.get<{ Params: { name: string } }>('/downloads/:name', route, async (request, reply) => {
    const { name } = request.params;
    const download = CLI_DOWNLOADS.find((d) => d.name === name);
    if (!download) {
      return sendError(
        reply,
        'NOT_FOUND',
        `no download named "${name}"; GET /downloads lists them (${CLI_DOWNLOADS.map((d) => d.name).join(', ')})`,
      );
    }
    const file = path.join(root, download.name);
    const size = await sizeOf(file);
    if (size === undefined) {
      return sendError(
        reply,
        'NOT_FOUND',
        `${name} is not built on this server; an administrator makes it with npm run package:cli`,
      );
    }
    reply
      .header('content-type', download.name.endsWith('.tgz') ? 'application/gzip' : 'application/octet-stream')
      .header('content-length', size)
      .header('content-disposition', `attachment; filename="${download.name}"`)
      .header('cache-control', 'no-cache');
    return reply.send(createReadStream(file));
  });
}
