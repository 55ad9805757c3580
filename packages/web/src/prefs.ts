/**
 * Small remembered choices (language, submitter, token) in localStorage. Every access is
 * guarded: private modes and sandboxed frames throw on localStorage, and the UI must still work.
 */
const PREFIX = 'speos_portal_';

export type PrefName = 'lang' | 'submitter' | 'token' | 'watched';

export function readPref(name: PrefName): string | undefined {
  try {
    return globalThis.localStorage?.getItem(PREFIX + name) ?? undefined;
  } catch {
    return undefined;
  }
}

export function writePref(name: PrefName, value: string | undefined): void {
  try {
    if (value === undefined || value === '') globalThis.localStorage?.removeItem(PREFIX + name);
    else globalThis.localStorage?.setItem(PREFIX + name, value);
  } catch {
    // Full or disabled storage: the choice lasts for this page only.
  }
}

/** True when localStorage accepts a write right now (false in some private modes, or when full). */
export function storageWorks(): boolean {
  try {
    const key = `${PREFIX}probe`;
    globalThis.localStorage.setItem(key, '1');
    globalThis.localStorage.removeItem(key);
    return true;
  } catch {
    return false;
  }
}
