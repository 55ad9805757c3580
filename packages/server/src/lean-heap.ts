/**
 * Keeps V8's young generation at its starting size (two 1 MiB semi-spaces) instead of letting
 * it grow to 32 MiB (Node 22) or 64 MiB (Node 24) once start-up has allocated a lot. Under
 * sustained load it still doubles (measured: 2 → 16 MiB during a 1 GiB upload from 32
 * connections; V8 grows it by another path too), which only a start-up flag would cap. The
 * server's garbage is small and short-lived (request objects; part bytes live in buffers
 * outside the heap), so the larger space bought no measurable speed, only resident memory:
 * idle RSS 143 → 120 MiB, and the peak during a 500 MiB upload fell by as much
 * (docs/performance.md, "Server memory").
 *
 * Set at run time because the server also starts inside the CLI (`speos-portal serve`) and
 * under a plain `node`, where no command-line flag can be counted on. Set at run time, this
 * flag stops start-up's growth; `--max-semi-space-size` is read only at start-up and does
 * nothing here, and on the command line V8 raises a growth factor of 1 to 2 (measured: 32 MiB
 * again). An operator who sets a semi-space size with NODE_OPTIONS keeps it.
 *
 * Must run before the server's modules load (loading them is most of start-up's garbage), so
 * the entry points import it on its own first: bin/speos-portal-server.js, and the CLI before
 * it loads this package (`@speos-portal/server/lean-heap`).
 */
import { setFlagsFromString } from 'node:v8';

const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
if (!/semi-space/.test(flags)) setFlagsFromString('--semi-space-growth-factor=1');
