/** Files of this package that tests hand to child processes by path. */
import { fileURLToPath } from 'node:url';

/** The TEST DOUBLE of the SPEOS solver (SPEOS cannot be installed here): see the file. */
export const FAKE_SPEOS = fileURLToPath(new URL('./fake-speos.mjs', import.meta.url));
/** `node --import` this to run the CLI as if on another platform (process.platform, path.win32). */
export const AS_PLATFORM = fileURLToPath(new URL('./as-platform.mjs', import.meta.url));
