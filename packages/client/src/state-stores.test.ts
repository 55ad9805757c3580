import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStorageStateStore, type StorageLike } from './local-storage-store.js';
import { defaultStateDir, JsonFileStateStore } from './node/json-file-store.js';
import { findResumableUploads, type SavedUpload } from './state-store.js';

/** The Web Storage contract, in memory: Node has no localStorage. */
class MemoryStorage implements StorageLike {
  readonly map = new Map<string, string>();
  get length() {
    return this.map.size;
  }
  key(i: number) {
    return [...this.map.keys()][i] ?? null;
  }
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, String(v));
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

const state = (task_id: string, extra: Partial<SavedUpload> = {}): SavedUpload => ({
  task_id,
  upload_id: 'u1',
  object_key: `speos_tasks/${task_id}/master/model.speos`,
  uploaded_parts: [
    [1, 'aaa'],
    [2, 'bbb'],
  ],
  filename: 'model.speos',
  size: 12_000_000,
  lastModified: 1_700_000_000_000,
  chunk_size: 5_242_880,
  file_type: 'master',
  created_at: 1,
  updated_at: 2,
  ...extra,
});

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('LocalStorageStateStore', () => {
  it('stores the original spec key and value shape', async () => {
    const storage = new MemoryStorage();
    const store = new LocalStorageStateStore(storage);
    await store.save(state('t1'));
    const raw = JSON.parse(storage.getItem('upload_t1')!);
    expect(raw).toMatchObject({
      task_id: 't1',
      upload_id: 'u1',
      uploaded_parts: [
        [1, 'aaa'],
        [2, 'bbb'],
      ],
    });
    expect(await store.load('t1')).toEqual(state('t1'));
    storage.setItem('upload_junk', '{not json');
    storage.setItem('unrelated', '{}');
    expect((await store.all()).map((s) => s.task_id)).toEqual(['t1']);
    await store.remove('t1');
    expect(await store.load('t1')).toBeUndefined();
  });

  it('turns resume off instead of throwing when storage is full or missing', async () => {
    const full = new MemoryStorage();
    full.setItem = () => {
      throw new DOMException('quota', 'QuotaExceededError');
    };
    const store = new LocalStorageStateStore(full);
    expect(store.available).toBe(true);
    await expect(store.save(state('t1'))).resolves.toBeUndefined();
    expect(store.available).toBe(false);
    const none = new LocalStorageStateStore(undefined);
    expect(none.available).toBe(false); // Node has no localStorage
    expect(await none.all()).toEqual([]);
  });
});

describe('JsonFileStateStore', () => {
  it('writes atomically, leaves no temp files, and the last of concurrent saves wins', async () => {
    const dir = await tempDir('speos-state-');
    dirs.push(dir);
    const store = new JsonFileStateStore(path.join(dir, 'nested'));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.save(state('t1', { uploaded_parts: [[i + 1, `e${i}`]] }))),
    );
    expect((await store.load('t1'))?.uploaded_parts).toEqual([[20, 'e19']]);
    expect(await readdir(path.join(dir, 'nested'))).toEqual(['upload_t1.json']);
    expect(JSON.parse(await readFile(store.fileFor('t1'), 'utf8')).task_id).toBe('t1');
    await store.remove('t1');
    expect(await store.all()).toEqual([]);
  });

  it('finds resumable uploads by name, size, mtime and path, newest first', async () => {
    const dir = await tempDir('speos-state-');
    dirs.push(dir);
    const store = new JsonFileStateStore(dir);
    await store.save(state('old', { updated_at: 10, path: '/a/model.speos' }));
    await store.save(state('new', { updated_at: 20, path: '/a/model.speos' }));
    await store.save(state('elsewhere', { updated_at: 30, path: '/b/model.speos' }));
    await store.save(state('smaller', { size: 5 }));
    const file = { filename: 'model.speos', size: 12_000_000, lastModified: 1_700_000_000_000 };
    expect((await findResumableUploads(store, { ...file, path: '/a/model.speos' })).map((s) => s.task_id)).toEqual([
      'new',
      'old',
    ]);
    expect(await findResumableUploads(store, { ...file, lastModified: 5 })).toEqual([]);
  });

  it('defaults to $XDG_STATE_HOME/speos-portal, overridable', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/x/state' })).toBe('/x/state/speos-portal');
    expect(defaultStateDir({ SPEOS_PORTAL_STATE_DIR: '/y', XDG_STATE_HOME: '/x' })).toBe('/y');
    expect(defaultStateDir({ HOME: '/home/u' })).toMatch(/\.local\/state\/speos-portal$/);
  });
});

describe('browser entry', () => {
  it('imports nothing from node:', async () => {
    const src = path.dirname(new URL(import.meta.url).pathname);
    for (const name of await readdir(src)) {
      if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
      const text = await readFile(path.join(src, name), 'utf8');
      expect(text, name).not.toMatch(/from ['"](node:|fs|path|http|crypto)/);
      expect(text, name).not.toMatch(/from ['"]\.\/node\//);
    }
  });
});
