/**
 * Keeps V8's young generation at its starting size (two 1 MiB semi-spaces) instead of letting
 * it grow to 32 MiB (Node 22) or 64 MiB (Node 24) once start-up has allocated a lot. The
 * server's garbage is small and short-lived (request objects; part bytes live in buffers
 * outside the heap), so the larger space bought no measurable speed, only resident memory:
 * idle RSS 143 → 120 MiB, and the peak during a 500 MiB upload fell by as much
 * (docs/performance.md, "Server memory").
 *
 * Set at run time because the server also starts inside the CLI (`speos-portal serve`) and
 * under a plain `node`, where no command-line flag can be counted on. V8 reads this flag each
 * time it considers growing the space; `--max-semi-space-size` is read only at start-up and
 * does nothing here. An operator who sets a semi-space size with NODE_OPTIONS keeps it.
 *
 * Must run before the server's modules load (loading them is most of start-up's garbage), so
 * the entry points import it on its own first: bin/speos-portal-server.js, and the CLI before
 * it loads this package (`@speos-portal/server/lean-heap`).
 */
import { setFlagsFromString } from 'node:v8';

const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
if (!/semi-space/.test(flags)) setFlagsFromString('--semi-space-growth-factor=1');
