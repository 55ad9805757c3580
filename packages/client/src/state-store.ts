/** Where an upload's progress is kept between runs, so a reload, Ctrl-C or reboot can resume it. */
import type { FileType } from '@speos-portal/protocol';

/**
 * One saved upload. The first four fields are exactly the original frontend's localStorage value
 * (docs/api.md "Resume"); the rest lets a resume check the file.
 */
export interface SavedUpload {
  task_id: string;
  upload_id: string;
  object_key: string;
  /** `[part_number, etag]`, etag unquoted, ascending. */
  uploaded_parts: [number, string][];
  filename: string;
  size: number;
  /** The file's modification time in epoch ms (`File.lastModified`, `stat.mtimeMs` rounded). */
  lastModified: number;
  chunk_size: number;
  file_type: FileType;
  /** Epoch ms. */
  created_at: number;
  /** Epoch ms. */
  updated_at: number;
  /** Node only: the absolute path of the file, part of the lookup key. */
  path?: string;
  /** True once `complete` succeeded (a rerun then only completes again and confirms). */
  completed?: boolean;
}

/** What identifies a file when looking for saved uploads. */
export interface FileIdentity {
  filename: string;
  size: number;
  lastModified: number;
  /** When both sides have one, it must match too. */
  path?: string | undefined;
}

export interface StateStore {
  /** False when saving does not work (e.g. storage quota, private mode): uploads still run, but cannot resume. */
  readonly available: boolean;
  load(taskId: string): Promise<SavedUpload | undefined>;
  save(state: SavedUpload): Promise<void>;
  remove(taskId: string): Promise<void>;
  /** Every saved upload. */
  all(): Promise<SavedUpload[]>;
}

/** True when a saved upload was made from a file with this name, size and mtime (and path, if both know it). */
export function matchesFile(state: SavedUpload, file: FileIdentity): boolean {
  return (
    state.filename === file.filename &&
    state.size === file.size &&
    state.lastModified === file.lastModified &&
    (state.path === undefined || file.path === undefined || state.path === file.path)
  );
}

/**
 * Saved uploads that could continue this file (name + size + lastModified), newest first.
 * The content check (local MD5 against the server's ETags) happens when the upload resumes.
 */
export async function findResumableUploads(
  store: StateStore,
  file: FileIdentity,
  fileType?: FileType,
): Promise<SavedUpload[]> {
  const all = await store.all();
  return all
    .filter((s) => matchesFile(s, file) && (fileType === undefined || s.file_type === fileType))
    .sort((a, b) => b.updated_at - a.updated_at);
}

/** A type guard for values read back from storage (they may be old, foreign or corrupt). */
export function isSavedUpload(value: unknown): value is SavedUpload {
  const v = value as Partial<SavedUpload> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.task_id === 'string' &&
    typeof v.upload_id === 'string' &&
    typeof v.object_key === 'string' &&
    Array.isArray(v.uploaded_parts) &&
    typeof v.filename === 'string' &&
    typeof v.size === 'number' &&
    typeof v.lastModified === 'number' &&
    typeof v.chunk_size === 'number'
  );
}

/** Keeps state in memory only: for callers that do not want resume across runs. */
export class MemoryStateStore implements StateStore {
  readonly available = true;
  readonly #states = new Map<string, SavedUpload>();
  async load(taskId: string) {
    const s = this.#states.get(taskId);
    return s && structuredClone(s);
  }
  async save(state: SavedUpload) {
    this.#states.set(state.task_id, structuredClone(state));
  }
  async remove(taskId: string) {
    this.#states.delete(taskId);
  }
  async all() {
    return [...this.#states.values()].map((s) => structuredClone(s));
  }
}
