/** Browser state store: `localStorage["upload_${task_id}"]`, the key and value of the original frontend (docs/api.md "Resume"). */
import { isSavedUpload, type SavedUpload, type StateStore } from './state-store.js';

const PREFIX = 'upload_';

/** The part of the Web Storage API this store needs. */
export interface StorageLike {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * @example
 * const store = new LocalStorageStateStore();
 * if (!store.available) showWarning('This upload cannot resume after a reload.');
 */
export class LocalStorageStateStore implements StateStore {
  readonly #storage: StorageLike | undefined;
  #available: boolean;

  /** @param storage defaults to `globalThis.localStorage`; reading that can itself throw (sandboxed iframes). */
  constructor(storage?: StorageLike) {
    let resolved = storage;
    if (!resolved) {
      try {
        resolved = (globalThis as { localStorage?: StorageLike }).localStorage;
      } catch {
        resolved = undefined;
      }
    }
    this.#storage = resolved;
    this.#available = resolved !== undefined;
  }

  /** False once storage is missing or refused a write (quota): uploads go on, resume is off. */
  get available(): boolean {
    return this.#available;
  }

  async load(taskId: string): Promise<SavedUpload | undefined> {
    return this.#read(PREFIX + taskId);
  }

  async save(state: SavedUpload): Promise<void> {
    if (!this.#storage) return;
    try {
      this.#storage.setItem(PREFIX + state.task_id, JSON.stringify(state));
    } catch {
      // QuotaExceededError or storage disabled mid-session: never let bookkeeping break the upload.
      this.#available = false;
    }
  }

  async remove(taskId: string): Promise<void> {
    try {
      this.#storage?.removeItem(PREFIX + taskId);
    } catch {
      // Private modes and sandboxed frames throw on localStorage; there is then nothing to remove.
    }
  }

  async all(): Promise<SavedUpload[]> {
    const storage = this.#storage;
    if (!storage) return [];
    const found: SavedUpload[] = [];
    try {
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i);
        if (!key?.startsWith(PREFIX)) continue;
        const state = this.#read(key);
        if (state) found.push(state);
      }
    } catch {
      // Unreadable storage (private modes, sandboxed frames) holds no saved uploads.
    }
    return found;
  }

  #read(key: string): SavedUpload | undefined {
    try {
      const raw = this.#storage?.getItem(key);
      if (!raw) return undefined;
      const parsed: unknown = JSON.parse(raw);
      return isSavedUpload(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
}
