/**
 * The CLI's folders on each OS, and the move of 0.1's folders. Linux runs here for real; Windows
 * and macOS run the built dirs.js (with the real env-paths) in a child process that only looks
 * like them: process.platform, and for Windows `node:path` = path.win32 (test-support/as-platform.mjs).
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { AS_PLATFORM } from '@speos-portal/test-support/paths.js';
import { tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliDirs, migrateLegacyConfig, migrateLegacyState } from './dirs.js';

const run = promisify(execFile);
const BUILT_DIRS = fileURLToPath(new URL('../dist/dirs.js', import.meta.url));

/** What the built dirs.ts answers on `platform`, with `env` as the whole environment. */
async function dirsOn(platform: 'win32' | 'darwin', env: Record<string, string>) {
  const script = `
    import path from 'node:path';
    const { cliDirs, legacyStateDir, legacyConfigFile } = await import(${JSON.stringify(pathToFileURL(BUILT_DIRS).href)});
    const dirs = cliDirs();
    console.log(JSON.stringify({
      platform: process.platform, sep: path.sep, ...dirs,
      stateFile: path.join(dirs.state, 'upload_abc.json'),
      namespaced: path.toNamespacedPath(dirs.state),
      legacyState: legacyStateDir(), legacyConfig: legacyConfigFile(),
    }));`;
  const { stdout } = await run(
    process.execPath,
    ['--import', pathToFileURL(AS_PLATFORM).href, '--input-type=module', '-e', script],
    { env: { PATH: process.env.PATH ?? '', FAKE_PLATFORM: platform, ...env } },
  );
  return JSON.parse(stdout) as Record<string, string>;
}

describe('the CLI folders on Windows (path logic; Windows itself cannot run here)', () => {
  const home = 'C:\\Users\\张三 Zoë';
  const windowsEnv = {
    HOME: home, // what os.homedir() reads here; on Windows it is USERPROFILE
    APPDATA: `${home}\\AppData\\Roaming`,
    LOCALAPPDATA: `${home}\\AppData\\Local`,
    TMPDIR: `${home}\\AppData\\Local\\Temp`,
  };

  it('state in %LOCALAPPDATA%, config in %APPDATA%, non-ASCII names kept', async () => {
    const dirs = await dirsOn('win32', windowsEnv);
    expect(dirs.platform).toBe('win32');
    expect(dirs.sep).toBe('\\');
    expect(dirs.state).toBe('C:\\Users\\张三 Zoë\\AppData\\Local\\speos-portal\\Data');
    expect(dirs.stateFile).toBe('C:\\Users\\张三 Zoë\\AppData\\Local\\speos-portal\\Data\\upload_abc.json');
    expect(dirs.configFile).toBe('C:\\Users\\张三 Zoë\\AppData\\Roaming\\speos-portal\\Config\\config.json');
    // Where 0.1 put them on Windows too, moved from on first use.
    expect(dirs.legacyState).toBe('C:\\Users\\张三 Zoë\\.local\\state\\speos-portal');
    expect(dirs.legacyConfig).toBe('C:\\Users\\张三 Zoë\\.config\\speos-portal\\config.json');
  });

  it('without APPDATA/LOCALAPPDATA: under the profile folder', async () => {
    const dirs = await dirsOn('win32', { HOME: home });
    expect(dirs.state).toBe('C:\\Users\\张三 Zoë\\AppData\\Local\\speos-portal\\Data');
    expect(dirs.configFile).toBe('C:\\Users\\张三 Zoë\\AppData\\Roaming\\speos-portal\\Config\\config.json');
  });

  it('UNC profiles and overrides stay UNC; other drives stay on their drive', async () => {
    const unc = await dirsOn('win32', {
      HOME: '\\\\fs01\\profiles\\zhang',
      LOCALAPPDATA: '\\\\fs01\\profiles\\zhang\\AppData\\Local',
      APPDATA: '\\\\fs01\\profiles\\zhang\\AppData\\Roaming',
    });
    expect(unc.state).toBe('\\\\fs01\\profiles\\zhang\\AppData\\Local\\speos-portal\\Data');
    // Node's fs reaches UNC and long paths through the \\?\ namespace by itself (toNamespacedPath).
    expect(unc.namespaced).toBe('\\\\?\\UNC\\fs01\\profiles\\zhang\\AppData\\Local\\speos-portal\\Data');
    const overridden = await dirsOn('win32', {
      ...windowsEnv,
      SPEOS_PORTAL_STATE_DIR: 'D:\\Jobs\\上传状态',
      SPEOS_PORTAL_CONFIG: '\\\\fs01\\share\\speos\\config.json',
    });
    expect(overridden.state).toBe('D:\\Jobs\\上传状态');
    expect(overridden.configFile).toBe('\\\\fs01\\share\\speos\\config.json');
    const forwardSlashes = await dirsOn('win32', { ...windowsEnv, SPEOS_PORTAL_STATE_DIR: 'D:/Jobs/state/' });
    expect(forwardSlashes.state).toBe('D:\\Jobs\\state');
  });

  it('paths past 260 characters are kept whole and reach fs through \\\\?\\', async () => {
    const deep = `C:\\${Array.from({ length: 30 }, (_, i) => `folder-${i}`).join('\\')}`;
    expect(deep.length).toBeGreaterThan(260);
    const dirs = await dirsOn('win32', { ...windowsEnv, LOCALAPPDATA: deep });
    expect(dirs.state).toBe(`${deep}\\speos-portal\\Data`);
    expect(dirs.namespaced).toBe(`\\\\?\\${deep}\\speos-portal\\Data`);
  });
});

describe('the CLI folders on macOS and Linux', () => {
  it('macOS: ~/Library', async () => {
    const dirs = await dirsOn('darwin', { HOME: '/Users/zoë' });
    expect(dirs.state).toBe('/Users/zoë/Library/Application Support/speos-portal');
    expect(dirs.configFile).toBe('/Users/zoë/Library/Preferences/speos-portal/config.json');
    expect(dirs.legacyState).toBe('/Users/zoë/.local/state/speos-portal');
  });

  it('Linux: XDG folders, where 0.1 kept them (so nothing moves there)', () => {
    const saved = { state: process.env.XDG_STATE_HOME, config: process.env.XDG_CONFIG_HOME };
    try {
      process.env.XDG_STATE_HOME = '/x/state';
      process.env.XDG_CONFIG_HOME = '/x/config';
      expect(cliDirs({})).toEqual({ state: '/x/state/speos-portal', configFile: '/x/config/speos-portal/config.json' });
      expect(cliDirs({ SPEOS_PORTAL_STATE_DIR: '/y/', SPEOS_PORTAL_CONFIG: '/z/c.json' })).toEqual({
        state: '/y',
        configFile: '/z/c.json',
      });
    } finally {
      for (const [key, value] of [
        ['XDG_STATE_HOME', saved.state],
        ['XDG_CONFIG_HOME', saved.config],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});

describe('moving 0.1 folders', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('speos-cli-dirs-');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const state = (taskId: string, note: string) => `${JSON.stringify({ task_id: taskId, note })}\n`;

  it('moves saved uploads, never replaces a newer one, removes the old folder once empty', async () => {
    const legacy = path.join(dir, 'legacy-a');
    const target = path.join(dir, 'new-a');
    await mkdir(legacy, { recursive: true });
    await mkdir(target, { recursive: true });
    await writeFile(path.join(legacy, 'upload_t1.json'), state('t1', 'old'));
    await writeFile(path.join(legacy, 'upload_t2.json'), state('t2', 'old'));
    await writeFile(path.join(target, 'upload_t2.json'), state('t2', 'newer'));
    expect(await migrateLegacyState(target, legacy)).toBe(1);
    expect(await readFile(path.join(target, 'upload_t1.json'), 'utf8')).toBe(state('t1', 'old'));
    expect(await readFile(path.join(target, 'upload_t2.json'), 'utf8')).toBe(state('t2', 'newer'));
    expect(await readdir(legacy)).toEqual(['upload_t2.json']); // kept, not lost
    await rm(path.join(legacy, 'upload_t2.json'));
    expect(await migrateLegacyState(target, legacy)).toBe(0);
    await expect(readdir(legacy)).rejects.toThrow(/ENOENT/);
    expect(await migrateLegacyState(target, path.join(dir, 'missing'))).toBe(0);
    expect(await migrateLegacyState(target, target)).toBe(0);
  });

  it('drops half-written saves of a killed run, never those of a live one', async () => {
    const legacy = path.join(dir, 'legacy-tmp');
    const target = path.join(dir, 'new-tmp');
    await mkdir(legacy, { recursive: true });
    await writeFile(path.join(legacy, 'upload_k.json'), state('k', 'saved'));
    // Above Linux's largest pid (2^22): no such process. Ours is alive.
    const dead = 'upload_k.json.4194400.3.tmp';
    const live = `upload_k.json.${process.pid}.4.tmp`;
    await writeFile(path.join(legacy, dead), '{"task_');
    await writeFile(path.join(legacy, live), '{"task_');
    expect(await migrateLegacyState(target, legacy)).toBe(1);
    expect(await readdir(legacy)).toEqual([live]);
    await rm(path.join(legacy, live));
    expect(await migrateLegacyState(target, legacy)).toBe(0);
    await expect(readdir(legacy)).rejects.toThrow(/ENOENT/);
  });

  it('CLIs started at once move every state exactly once (20 rounds)', async () => {
    for (let round = 0; round < 20; round++) {
      const legacy = path.join(dir, `legacy-race-${round}`);
      const target = path.join(dir, `new-race-${round}`);
      await mkdir(legacy, { recursive: true });
      const ids = Array.from({ length: 12 }, (_, i) => `r${round}-${i}`);
      for (const id of ids) await writeFile(path.join(legacy, `upload_${id}.json`), state(id, 'x'.repeat(4000)));
      const moved = await Promise.all(Array.from({ length: 4 }, () => migrateLegacyState(target, legacy)));
      expect(moved.reduce((a, b) => a + b, 0)).toBe(ids.length);
      expect((await readdir(target)).sort()).toEqual(ids.map((id) => `upload_${id}.json`).sort());
      for (const id of ids) {
        expect(await readFile(path.join(target, `upload_${id}.json`), 'utf8')).toBe(state(id, 'x'.repeat(4000)));
      }
      await expect(readdir(legacy)).rejects.toThrow(/ENOENT/);
    }
  });

  it('moves the config file unless one is there', async () => {
    const legacy = path.join(dir, 'legacy-config/speos-portal/config.json');
    const target = path.join(dir, 'new-config/speos-portal/Config/config.json');
    await mkdir(path.dirname(legacy), { recursive: true });
    await writeFile(legacy, '{"server":"https://old"}\n', { mode: 0o600 });
    expect(await migrateLegacyConfig(target, legacy)).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('{"server":"https://old"}\n');
    await mkdir(path.dirname(legacy), { recursive: true });
    await writeFile(legacy, '{"server":"https://older"}\n');
    expect(await migrateLegacyConfig(target, legacy)).toBe(false);
    expect(await readFile(target, 'utf8')).toBe('{"server":"https://old"}\n');
  });
});
