/**
 * One file's upload as the UI sees it: wraps the client's Uploader, takes the task's Web Lock,
 * turns events into a snapshot React can render (throttled: progress fires per XHR chunk) and
 * turns failures into something a person can act on.
 */
import {
  BlobFileSource,
  LocalStorageStateStore,
  PortalApiError,
  type PortalClient,
  type SavedUpload,
  UploadError,
  Uploader,
  type UploadProgress,
  type UploadResult,
  XhrTransport,
} from '@speos-portal/client';
import type { FileType } from '@speos-portal/protocol';
import { Observable } from './observable.js';
import { type ReleaseLock, tryLockUpload } from './upload-lock.js';

export type JobPhase =
  | 'starting'
  | 'checking'
  | 'uploading'
  | 'paused'
  | 'uploaded'
  | 'failed'
  | 'cancelling'
  | 'cancelled';

/** Why an upload stopped for good, in terms of what the person should do next. */
/** `rejected`: the server answered 4xx (its `detail` says why); `request`: network, 5xx, retries used up. */
export type FailureKind = 'noSuchUpload' | 'fileChanged' | 'auth' | 'locked' | 'rejected' | 'request';

export interface JobFailure {
  kind: FailureKind;
  /** The server's `detail` or the client's message. */
  detail: string;
}

export interface JobSnapshot {
  fileName: string;
  fileType: FileType;
  size: number;
  phase: JobPhase;
  progress: UploadProgress | undefined;
  taskId: string | undefined;
  failure: JobFailure | undefined;
  /** False when progress cannot be saved: a reload would start from zero. */
  resumeEnabled: boolean;
  result: UploadResult | undefined;
  /**
   * Set while the uploader waits out a problem it will retry: offline, a server or storage that
   * does not answer, or a request that failed a few times in a row. One failed attempt that
   * succeeds on retry stays invisible.
   */
  trouble: 'offline' | 'retrying' | 'waitingServer' | 'waitingStorage' | undefined;
  /** While waiting for the server or storage: why (ECONNREFUSED, HTTP 503 DATABASE_UNAVAILABLE…). */
  troubleReason: string | undefined;
}

/** Failed attempts in a row before the UI says it is retrying. */
const VISIBLE_RETRY_ATTEMPT = 3;

/** The store every upload shares (one per page: it only wraps localStorage). */
export const uploadStateStore = new LocalStorageStateStore();

const PROGRESS_INTERVAL_MS = 150;

export class UploadJob extends Observable<JobSnapshot> {
  readonly file: File;
  readonly #api: () => PortalClient;
  #uploader: Uploader;
  #release: ReleaseLock | undefined;
  #pendingProgress: UploadProgress | undefined;

  #progressTimer: ReturnType<typeof setTimeout> | undefined;
  /** Called once the task id is known (after init, or at once on resume). */
  onTaskId: ((taskId: string) => void) | undefined;

  /**
   * @param api returns the current client (the token may change between retries)
   * @param resumeFrom a saved upload to continue, checked against the file first
   */
  constructor(file: File, fileType: FileType, api: () => PortalClient, resumeFrom?: SavedUpload) {
    super({
      fileName: file.name,
      fileType,
      size: file.size,
      phase: 'starting',
      progress: undefined,
      taskId: resumeFrom?.task_id,
      failure: undefined,
      resumeEnabled: uploadStateStore.available,
      result: undefined,
      trouble: undefined,
      troubleReason: undefined,
    });
    this.file = file;
    this.#api = api;
    this.#uploader = this.#makeUploader(resumeFrom ?? false);
  }

  /** Uploads (init, or resume from the server's list) through complete; resolves undefined if it stopped. */
  async run(): Promise<UploadResult | undefined> {
    const taskId = this.snapshot.taskId;
    if (taskId && !this.#release) {
      const release = await tryLockUpload(taskId);
      if (!release) {
        this.set({ phase: 'failed', failure: { kind: 'locked', detail: '' } });
        return undefined;
      }
      this.#release = release;
    }
    this.set({ phase: taskId ? 'checking' : 'starting', failure: undefined, trouble: undefined });
    try {
      const result = await this.#uploader.start();
      this.#flushProgress();
      this.set({ phase: 'uploaded', result, resumeEnabled: this.#uploader.resumeEnabled, trouble: undefined });
      return result;
    } catch (error) {
      this.#flushProgress();
      if (error instanceof UploadError && error.code === 'PAUSED') {
        this.set({ phase: 'paused', trouble: undefined });
        return undefined;
      }
      if (error instanceof UploadError && error.code === 'CANCELLED') return undefined;
      this.set({ phase: 'failed', failure: describeFailure(error), trouble: undefined });
      this.#unlock();
      return undefined;
    }
  }

  pause(): void {
    if (
      this.snapshot.phase === 'uploading' ||
      this.snapshot.phase === 'checking' ||
      this.snapshot.phase === 'starting'
    ) {
      this.#uploader.pause();
    }
  }

  /** After a failure: a fresh Uploader (the token may have changed) continuing from the saved state. */
  retry(): void {
    const state = this.#uploader.state;
    this.#uploader = this.#makeUploader(state ?? false);
  }

  /** Stops, aborts the upload on the server and forgets its saved state. */
  async cancel(): Promise<void> {
    this.set({ phase: 'cancelling' });
    await this.#uploader.cancel();
    this.#unlock();
    this.set({ phase: 'cancelled' });
  }

  /** After the job is confirmed: drop the saved state and the lock. */
  async finish(): Promise<void> {
    await this.#uploader.forget();
    this.#unlock();
  }

  /** The object key once complete. */
  get objectKey(): string | undefined {
    return this.snapshot.result?.objectKey;
  }

  #makeUploader(resume: SavedUpload | false): Uploader {
    const uploader = new Uploader({
      api: this.#api(),
      transport: new XhrTransport(),
      source: new BlobFileSource(this.file),
      store: uploadStateStore,
      fileType: this.snapshot.fileType,
      contentType: this.file.type || undefined,
      resume,
      // Confirm waits for every file of the job; the saved state stays until then.
      keepState: true,
    });
    uploader.on('state-saved', (state) => {
      if (this.snapshot.taskId !== state.task_id) {
        this.set({ taskId: state.task_id });
        this.onTaskId?.(state.task_id);
        // A new upload: nobody else can know this task yet, so the lock is free.
        void tryLockUpload(state.task_id).then((release) => {
          if (release && !this.#release) this.#release = release;
          else release?.();
        });
      }
      if (this.snapshot.phase === 'checking' || this.snapshot.phase === 'starting') this.set({ phase: 'uploading' });
    });
    uploader.on('resume', () => this.set({ phase: 'uploading' }));
    uploader.on('retry', ({ attempt, decision }) => {
      if (decision.action !== 'retry') return;
      if (decision.waitForOnline) this.set({ trouble: 'offline' });
      else if (attempt >= VISIBLE_RETRY_ATTEMPT && !isWaiting(this.snapshot.trouble)) this.set({ trouble: 'retrying' });
    });
    // Speed and ETA are hidden meanwhile: they would describe the time before the outage.
    uploader.on('waiting', ({ target, reason }) =>
      this.set({ trouble: target === 'server' ? 'waitingServer' : 'waitingStorage', troubleReason: reason }),
    );
    uploader.on('reconnected', () => this.set({ trouble: undefined, troubleReason: undefined }));
    uploader.on('part-done', () => {
      if (this.snapshot.trouble) this.set({ trouble: undefined, troubleReason: undefined });
    });
    uploader.on('warning', () => this.set({ resumeEnabled: uploader.resumeEnabled }));
    uploader.on('progress', (progress) => {
      this.#pendingProgress = progress;
      this.#progressTimer ??= setTimeout(() => this.#flushProgress(), PROGRESS_INTERVAL_MS);
    });
    return uploader;
  }

  #flushProgress(): void {
    clearTimeout(this.#progressTimer);
    this.#progressTimer = undefined;
    if (this.#pendingProgress) this.set({ progress: this.#pendingProgress });
    this.#pendingProgress = undefined;
  }

  #unlock(): void {
    this.#release?.();
    this.#release = undefined;
  }
}

function isWaiting(trouble: JobSnapshot['trouble']): boolean {
  return trouble === 'waitingServer' || trouble === 'waitingStorage';
}

/** Maps the client's errors onto what the UI explains. */
export function describeFailure(error: unknown): JobFailure {
  const cause = error instanceof Error ? (error.cause as unknown) : undefined;
  const api = error instanceof PortalApiError ? error : cause instanceof PortalApiError ? cause : undefined;
  if (api?.status === 401) return { kind: 'auth', detail: api.detail };
  if (error instanceof UploadError) {
    if (error.code === 'NO_SUCH_UPLOAD') return { kind: 'noSuchUpload', detail: error.message };
    if (error.code === 'FILE_CHANGED') return { kind: 'fileChanged', detail: error.message };
  }
  if (api && api.status >= 400 && api.status < 500 && api.status !== 408 && api.status !== 429)
    return { kind: 'rejected', detail: api.detail };
  if (api) return { kind: 'request', detail: api.detail };
  return { kind: 'request', detail: error instanceof Error ? error.message : String(error) };
}
