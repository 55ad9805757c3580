// Preloaded with `node --import` by dirs.test.ts: makes this process look like Windows or macOS
// (FAKE_PLATFORM=win32|darwin) to env-paths and our own path code, which is all that differs
// there; Windows itself cannot run here. For win32, `node:path` becomes `path.win32` for every
// ES module (win32-path-hooks.mjs); os.homedir() follows HOME as on any POSIX system.
import { register } from 'node:module';

const platform = process.env.FAKE_PLATFORM;
if (platform !== 'win32' && platform !== 'darwin')
  throw new Error(`FAKE_PLATFORM must be win32 or darwin: ${platform}`);
Object.defineProperty(process, 'platform', { value: platform });
if (platform === 'win32') register('./win32-path-hooks.mjs', import.meta.url);
