#!/usr/bin/env node
// The `speos-portal-server` command (serve, worker). A committed shim, so npm can link it before
// anything is built; the command itself is compiled from src/ into dist/ by `npm run build`.
import { existsSync } from 'node:fs';

const built = new URL('../dist/command.js', import.meta.url);
if (!existsSync(built)) {
  console.error('speos-portal-server: not built yet; run `npm run build` in the repository first.');
  process.exit(1);
}
// Before the server's modules load: see src/lean-heap.ts.
await import(new URL('../dist/lean-heap.js', import.meta.url).href);
const { runServerCommand } = await import(built.href);
runServerCommand(process.argv.slice(2)).catch((error) => {
  const command = ['serve', 'worker'].includes(process.argv[2] ?? '') ? ` ${process.argv[2]}` : '';
  console.error(`speos-portal${command}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
