/**
 * Vitest global set-up: brings the built packages up to date before any test runs. Most
 * tests run the TypeScript sources, but those that start real processes (`speos-portal
 * serve`, `worker`, `upload`) run packages/cli/dist, which must never be stale. `tsc -b`
 * is incremental: a no-op of a few seconds when nothing changed.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  execFileSync(process.execPath, [tsc, '-b', 'packages/cli', 'packages/server'], { cwd: root, stdio: 'inherit' });
}
