import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run the TypeScript sources directly; `npm start` runs the built dist/.
    alias: {
      // Before '@speos-portal/protocol', which would also match these paths by prefix.
      '@speos-portal/protocol/constants': fileURLToPath(
        new URL('./packages/protocol/src/constants.ts', import.meta.url),
      ),
      '@speos-portal/protocol/schemas': fileURLToPath(new URL('./packages/protocol/src/schemas.ts', import.meta.url)),
      '@speos-portal/protocol/auth': fileURLToPath(new URL('./packages/protocol/src/auth.ts', import.meta.url)),
      '@speos-portal/protocol': src('protocol'),
      // Before '@speos-portal/server', which would also match this path by prefix.
      '@speos-portal/server/lean-heap': fileURLToPath(new URL('./packages/server/src/lean-heap.ts', import.meta.url)),
      '@speos-portal/server': src('server'),
      // The tests' helpers (never built): '@speos-portal/test-support/portal.js' → src/portal.ts.
      '@speos-portal/test-support': fileURLToPath(new URL('./packages/test-support/src', import.meta.url)),
      // Before '@speos-portal/client', which would also match this path by prefix.
      '@speos-portal/client/node': fileURLToPath(new URL('./packages/client/src/node/index.ts', import.meta.url)),
      '@speos-portal/client': src('client'),
    },
  },
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    // packages/cli/dist is what the process-level tests start: never a stale one.
    globalSetup: ['./test/build-before-tests.ts'],
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more files at once only makes the I/O-heavy tests fight.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
