import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const source = (pkg: string) => fileURLToPath(new URL(`../${pkg}/src/index.ts`, import.meta.url));

/** API paths the dev server forwards to a portal on :8000 (`npm run dev -w @speos-portal/web`). */
const API_PREFIXES = ['/tasks', '/v2', '/api', '/upload', '/healthz', '/metrics', '/docs', '/openapi.json'];

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: the UI also works when a proxy serves it below a path prefix.
  base: './',
  resolve: {
    // Bundle the workspace sources, so the UI never depends on whether `tsc -b` ran first.
    alias: [
      {
        find: /^@speos-portal\/protocol\/(constants|schemas|auth)$/,
        replacement: fileURLToPath(new URL('../protocol/src/$1.ts', import.meta.url)),
      },
      { find: /^@speos-portal\/protocol$/, replacement: source('protocol') },
      { find: /^@speos-portal\/client$/, replacement: source('client') },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: {
      treeshake: {
        // The protocol's TypeBox schemas are for the server; the UI imports only types and
        // small pure helpers from it. Declaring these modules side-effect free lets the
        // bundler drop the schemas and TypeBox itself.
        moduleSideEffects: (id) => !/[\\/](protocol[\\/]src|@sinclair[\\/]typebox)[\\/]/.test(id),
      },
    },
  },
  server: {
    proxy: Object.fromEntries(API_PREFIXES.map((p) => [p, 'http://127.0.0.1:8000'])),
  },
});
