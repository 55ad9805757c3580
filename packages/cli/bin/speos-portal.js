#!/usr/bin/env node
// The `speos-portal` command. A committed shim, so npm can link it before anything is
// built; the command itself is compiled from src/ into dist/ by `npm run build`.
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  console.error('speos-portal: not built yet; run `npm run build` in the repository first.');
  process.exit(1);
}
await import(built.href);
