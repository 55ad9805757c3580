/**
 * One object per file upload (the shape of Uppy's AwsS3Multipart uploader): init or resume → parts in parallel →
 * complete (sorted) → confirm. Browser-safe: every I/O goes through a PortalClient, a
 * PartTransport and a StateStore handed in by the caller.
 */
import {
  type CompleteResponse,
  type ConfirmRequest,
  type ConfirmResponse,
  chooseChunkSize,
  DEFAULT_CHUNK_SIZE,
  type FileType,
  normalizeEtag,
  type PartRange,
  planParts,
  type UploadPart,
  type UploadRef,
} from '@speos-portal/protocol';
import {
  type AdaptiveConcurrencyOptions,
  type ConcurrencyEvent,
  type ConcurrencyState,
  initialConcurrency,
  nextConcurrency,
} from './adaptive-concurrency.js';
import type { PortalClient } from './api-client.js';
import { toApiError } from './api-client.js';
import { Emitter } from './emitter.js';
import { type PortalApiError, StallError, UploadError } from './errors.js';
import { ProgressTracker, type UploadProgress } from './progress.js';
import { type OutageEvents, OutageWatch, retryFacts, retryLoop } from './retry-loop.js';
import { DEFAULT_RETRY_POLICY, type RetryDecision, type RetryPolicyOptions } from './retry-policy.js';
import { findResumableUploads, MemoryStateStore, type SavedUpload, type StateStore } from './state-store.js';
import type { FileSource, PartTransport } from './transport.js';

/** The job fields of confirm; the uploader adds task_id and master_object_key. */
export type ConfirmFields = Omit<ConfirmRequest, 'task_id' | 'master_object_key'>;

export interface UploaderOptions {
  /** The control-plane client. */
  api: PortalClient;
  /** How part bytes travel (XhrTransport in browsers, NodeHttpTransport in Node). */
  transport: PartTransport;
  /** The file to upload. */
  source: FileSource;
  /**
   * Where progress is saved after every part, for resume.
   * @default new MemoryStateStore() (no resume across runs)
   */
  store?: StateStore;
  /**
   * `"master"` (the SPEOS model) or `"include"` (an archive it references).
   * @default 'master'
   */
  fileType?: FileType;
  /**
   * Content type sent to init.
   * @default source.type ?? 'application/octet-stream'
   */
  contentType?: string | undefined;
  /**
   * Preferred bytes per part; raised automatically to stay within 10 000 parts.
   * @default undefined (the server's CHUNK_SIZE, 5 MiB unless its operator chose larger parts;
   * a file too large for 10 000 parts of 5 MiB asks for the size it needs)
   */
  chunkSize?: number | undefined;
  /**
   * Parts in flight at once, fixed. Without it the uploader adapts the number to what it
   * measures (adaptive-concurrency.ts): it starts at a few and grows while throughput rises.
   * @default undefined (adaptive)
   */
  concurrency?: number | undefined;
  /**
   * Tuning of the adaptive concurrency (used when `concurrency` is not given).
   * @default { initial: 4, min: 2, max: 32, maxInFlightBytes: 256 MiB }, max also capped by the transport's `maxParallel`
   */
  adaptive?: AdaptiveConcurrencyOptions | undefined;
  /**
   * A part attempt that makes no progress for this long is aborted and retried.
   * @default 30000
   */
  stallTimeoutMs?: number;
  /**
   * Backoff for network errors, 5xx, 408 and 429, the attempt budget per request, and how long
   * an unreachable server or store is waited for (`maxWaitMs`).
   * @default DEFAULT_RETRY_POLICY ({ maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 10000, maxWaitMs: 600000 })
   */
  retry?: Partial<RetryPolicyOptions>;
  /**
   * `true`: continue the newest saved upload of this file (same name, size, lastModified, path)
   * if there is one; `false`: always start a new upload; a SavedUpload: continue that one.
   * @default true
   */
  resume?: boolean | SavedUpload;
  /**
   * On resume, compare the MD5 of every local slice the server already holds with its ETag,
   * so a changed file is detected instead of silently mixed.
   * @default true
   */
  verifyOnResume?: boolean;
  /**
   * Attach this file to an existing task that is still uploading (e.g. an include archive).
   * @default undefined (init creates a task)
   */
  taskId?: string | undefined;
  /**
   * Job fields: when given, the uploader calls confirm after complete.
   * @default undefined (no confirm; the caller confirms, e.g. after also uploading an include)
   */
  confirm?: ConfirmFields | undefined;
  /**
   * Keep the saved state after success (the caller removes it with `forget()` once it confirmed).
   * @default false
   */
  keepState?: boolean;
  /**
   * Aborts everything; the upload stays resumable.
   * @default undefined
   */
  signal?: AbortSignal | undefined;
  /**
   * Whether the network is up; retries wait while it is not.
   * @default () => globalThis.navigator?.onLine ?? true
   */
  isOnline?: () => boolean;
}

type Optional = 'taskId' | 'confirm' | 'signal' | 'contentType' | 'concurrency' | 'adaptive' | 'chunkSize';
type Resolved = Required<Omit<UploaderOptions, Optional | 'retry'>> &
  Pick<UploaderOptions, Optional> & { retry: Required<RetryPolicyOptions> };

const DEFAULTS = {
  fileType: 'master' as FileType,
  stallTimeoutMs: 30_000,
  resume: true,
  verifyOnResume: true,
  keepState: false,
  isOnline: () => (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine ?? true,
};

export interface UploadResult {
  taskId: string;
  uploadId: string;
  objectKey: string;
  fileType: FileType;
  size: number;
  /** The object's multipart ETag from complete. */
  etag: string;
  /** confirm's answer, when `confirm` was given. */
  confirm: ConfirmResponse | undefined;
  /** True when this run continued an earlier one. */
  resumed: boolean;
  /** Parts this run sent (parts skipped on resume are not counted). */
  partsSent: number;
}

export interface RetryEvent {
  /** The part, or undefined for control-plane calls. */
  partNumber: number | undefined;
  what: string;
  attempt: number;
  decision: RetryDecision;
}

export interface UploaderEvents extends Record<string, unknown> {
  progress: UploadProgress;
  'part-done': { partNumber: number; etag: string; size: number };
  'state-saved': SavedUpload;
  /** A saved upload is being continued. */
  resume: { taskId: string; uploadId: string; partsOnServer: number; totalParts: number };
  retry: RetryEvent;
  /** The adaptive concurrency changed how many parts are in flight (not emitted with a fixed `concurrency`). */
  concurrency: { limit: number; reason: 'start' | ConcurrencyEvent['type'] };
  /**
   * The server (control-plane calls) or the storage (part PUTs) stopped answering; the upload
   * waits for it (up to `retry.maxWaitMs`) and goes on by itself. Speed and ETA are stale meanwhile.
   */
  waiting: OutageEvents['waiting'];
  /** After `waiting`: it answers again; the upload continues. */
  reconnected: OutageEvents['reconnected'];
  /** Something the user may want to know that does not stop the upload. */
  warning: { message: string };
  error: UploadError;
  done: UploadResult;
}

interface SignedUrl {
  url: string;
  /** Local epoch ms. */
  expiresAt: number;
}

/**
 * @example
 * const uploader = new Uploader({ api, transport: new XhrTransport(), source: new BlobFileSource(file),
 *   store: new LocalStorageStateStore(), confirm: { job_name: 'headlamp' } });
 * uploader.on('progress', (p) => bar.update(p.fraction));
 * const result = await uploader.start();
 */
export class Uploader extends Emitter<UploaderEvents> {
  readonly #options: Resolved;
  #state: SavedUpload | undefined;
  #plan: PartRange[] = [];
  readonly #done = new Map<number, string>();
  readonly #inFlight = new Map<number, number>();
  readonly #urls = new Map<number, SignedUrl>();
  #signing: Promise<void> | undefined;
  #confirmedBytes = 0;
  readonly #progress: ProgressTracker;
  #controller: AbortController | undefined;
  #running: Promise<UploadResult> | undefined;
  #resumed = false;
  #partsSent = 0;
  #saveFailed = false;
  /** ETags of the parts this object uploaded, by part number. */
  readonly #sentEtags = new Map<number, string>();
  /** One per origin (the portal; the store, when parts go elsewhere): an outage is the origin's, not a request's. */
  readonly #watches = new Map<string, OutageWatch>();
  /** The adaptive concurrency's state while parts upload; undefined with a fixed `concurrency`. */
  #concurrency: ConcurrencyState | undefined;

  constructor(options: UploaderOptions) {
    super();
    const merged = { ...DEFAULTS, store: new MemoryStateStore(), ...stripUndefined(options) };
    this.#options = { ...merged, retry: { ...DEFAULT_RETRY_POLICY, ...options.retry } } as Resolved;
    const fixed = this.#options.concurrency;
    if (fixed !== undefined && (!Number.isInteger(fixed) || fixed < 1)) {
      throw new RangeError(`concurrency must be a whole number ≥ 1, got ${options.concurrency}`);
    }
    this.#progress = new ProgressTracker(options.source.size);
  }

  /** The task this upload belongs to, once init (or the resume lookup) ran. */
  get taskId(): string | undefined {
    return this.#state?.task_id;
  }

  /** A copy of the saved state, once there is one. */
  get state(): SavedUpload | undefined {
    return this.#state && structuredClone(this.#state);
  }

  /** False when progress cannot be saved (no storage, quota): a reload or crash then restarts from zero. */
  get resumeEnabled(): boolean {
    return this.#options.store.available && !this.#saveFailed;
  }

  /** Starts, or continues after `pause()`. Resolves when the upload is complete (and confirmed, if asked). */
  start(): Promise<UploadResult> {
    if (this.#running) return this.#running;
    const controller = new AbortController();
    this.#controller = controller;
    const outer = this.#options.signal;
    if (outer?.aborted) controller.abort(outer.reason);
    const onOuterAbort = () => controller.abort(outer?.reason);
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    this.#running = this.#run(controller.signal).finally(() => {
      outer?.removeEventListener('abort', onOuterAbort);
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Stops in-flight parts; `start()` rejects with code PAUSED. Call `start()` again to resume. */
  pause(): void {
    this.#controller?.abort(new UploadError('PAUSED', 'upload paused'));
  }

  /** Stops, aborts the upload on the server and forgets the saved state; `start()` rejects with CANCELLED. */
  async cancel(): Promise<void> {
    this.#controller?.abort(new UploadError('CANCELLED', 'upload cancelled'));
    // The run's own error went to start()'s caller; cancel only waits for it to end.
    await this.#running?.catch(() => {});
    const state = this.#state;
    if (!state) return;
    // Cancel is a person waiting for a button: a few quick tries, not a long wait for the server.
    await this.#call('abort', (s) => this.#options.api.abort(ref(state), s), new AbortController().signal, {
      maxAttempts: 3,
      maxWaitMs: 0,
      // A cancel never fails on the network: the server's expiry sweep reclaims an upload whose abort did not arrive.
    }).catch(() => {});
    // A record that cannot be removed is found stale on the next resume (NO_SUCH_UPLOAD) and dropped then.
    await this.#options.store.remove(state.task_id).catch(() => {});
    this.#state = undefined;
  }

  /** Removes the saved state (after the caller confirmed, with `keepState: true`). */
  async forget(): Promise<void> {
    // As in cancel(): a stale record is dropped on the next resume.
    if (this.#state) await this.#options.store.remove(this.#state.task_id).catch(() => {});
  }

  async #run(signal: AbortSignal): Promise<UploadResult> {
    try {
      if (!this.#state) {
        const saved = await this.#findSaved();
        if (saved) await this.#resumeFrom(saved, signal);
        if (!this.#state) await this.#init(signal);
      } else {
        // Continuing after pause: the server's list is still the truth.
        await this.#resumeFrom(this.#state, signal);
        if (!this.#state) await this.#init(signal);
      }
      const state = this.#state!;
      this.#progress.restart(this.#confirmedBytes, Date.now());
      this.#emitProgress();
      await this.#uploadMissing(signal);
      const completed = await this.#complete(state, signal);
      let confirm: ConfirmResponse | undefined;
      if (this.#options.confirm) {
        const body: ConfirmRequest = {
          ...this.#options.confirm,
          task_id: state.task_id,
          master_object_key: state.object_key,
        };
        confirm = await this.#call('confirm', (s) => this.#options.api.confirm(body, s), signal);
      }
      // The job is submitted; a record left behind is dropped on the next resume (the task is no longer uploading).
      if (!this.#options.keepState) await this.#options.store.remove(state.task_id).catch(() => {});
      const result: UploadResult = {
        taskId: state.task_id,
        uploadId: state.upload_id,
        objectKey: state.object_key,
        fileType: state.file_type,
        size: completed.size,
        etag: completed.etag,
        confirm,
        resumed: this.#resumed,
        partsSent: this.#partsSent,
      };
      this.emit('done', result);
      return result;
    } catch (error) {
      const failure = this.#asUploadError(error, signal);
      if (failure.code !== 'PAUSED' && failure.code !== 'CANCELLED') this.emit('error', failure);
      throw failure;
    }
  }

  async #findSaved(): Promise<SavedUpload | undefined> {
    const { resume, store, source, fileType, taskId } = this.#options;
    if (resume === false) return undefined;
    if (typeof resume === 'object') return resume;
    const found = await findResumableUploads(
      store,
      { filename: source.name, size: source.size, lastModified: source.lastModified, path: source.path },
      fileType,
    ).catch(() => []);
    return found.find((s) => taskId === undefined || s.task_id === taskId);
  }

  async #init(signal: AbortSignal): Promise<void> {
    const { source, fileType, taskId } = this.#options;
    const init = await this.#call(
      'init',
      (s) =>
        this.#options.api.init(
          {
            filename: source.name,
            file_size: source.size,
            file_type: fileType,
            content_type: this.#options.contentType ?? source.type ?? 'application/octet-stream',
            ...chunkSizeField(source.size, this.#options.chunkSize),
            ...(taskId ? { task_id: taskId } : {}),
          },
          s,
        ),
      signal,
    );
    const now = Date.now();
    this.#state = {
      task_id: init.task_id,
      upload_id: init.upload_id,
      object_key: init.object_key,
      uploaded_parts: [],
      filename: source.name,
      size: source.size,
      lastModified: source.lastModified,
      chunk_size: init.chunk_size,
      file_type: init.file_type ?? fileType,
      created_at: now,
      updated_at: now,
      ...(source.path ? { path: source.path } : {}),
    };
    this.#plan = planParts(source.size, init.chunk_size);
    this.#done.clear();
    this.#confirmedBytes = 0;
    this.#rememberUrls(init.parts, init.expires_at);
    await this.#save();
  }

  /**
   * Resume = list → reconcile (the server's list wins) → check every part we skip against the
   * local bytes. Leaves `#state` undefined when the server no longer has the upload.
   */
  async #resumeFrom(saved: SavedUpload, signal: AbortSignal): Promise<void> {
    const { source } = this.#options;
    const when = new Date(saved.created_at).toISOString();
    if (saved.size !== source.size) {
      throw new UploadError(
        'FILE_CHANGED',
        `${source.name} is ${source.size} bytes now but was ${saved.size} bytes when its upload began (${when}); it changed, so the old upload cannot continue. Start a new upload.`,
      );
    }
    let listed: { part_number: number; etag: string; size: number }[];
    try {
      listed = (await this.#call('list', (s) => this.#options.api.list(ref(saved), s), signal)).parts;
    } catch (error) {
      if (error instanceof UploadError && error.code === 'NO_SUCH_UPLOAD') {
        this.emit('warning', {
          message: `the saved upload of ${source.name} (task ${saved.task_id}) no longer exists on the server; starting a new upload`,
        });
        // It is replaced by the new upload's record right after; a failure here changes nothing.
        await this.#options.store.remove(saved.task_id).catch(() => {});
        this.#state = undefined;
        return;
      }
      throw error;
    }
    this.#state = { ...saved, uploaded_parts: [] };
    this.#plan = planParts(saved.size, saved.chunk_size);
    this.#done.clear();
    this.#confirmedBytes = 0;
    for (const part of listed) {
      const range = this.#plan[part.part_number - 1];
      // A part of the wrong size is as good as missing: sending it again replaces it.
      if (!range || range.size !== part.size) continue;
      const etag = normalizeEtag(part.etag);
      // Parts this object sent itself (pause → start) were read from this very source; only
      // parts from an earlier run need the content check.
      const sentByUs = this.#sentEtags.get(part.part_number) === etag;
      if (this.#options.verifyOnResume && !sentByUs) {
        const local = await source.md5(range.startByte, range.endByte, signal);
        if (local !== etag) {
          throw new UploadError(
            'FILE_CHANGED',
            `${source.name} changed since its upload began (${when}): part ${part.part_number} (bytes ${range.startByte}–${range.endByte - 1}) differs from the copy on the server. Not mixing old and new bytes; start a new upload.`,
          );
        }
      }
      this.#done.set(part.part_number, etag);
      this.#confirmedBytes += range.size;
    }
    this.#resumed = true;
    this.emit('resume', {
      taskId: saved.task_id,
      uploadId: saved.upload_id,
      partsOnServer: this.#done.size,
      totalParts: this.#plan.length,
    });
    await this.#save();
  }

  async #uploadMissing(signal: AbortSignal): Promise<void> {
    const pending = this.#plan.filter((p) => !this.#done.has(p.partNumber));
    if (pending.length === 0) return;
    // One failed part stops the others: no point sending bytes for an upload that cannot finish.
    const run = new AbortController();
    const stop = () => run.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    this.#startConcurrency(pending[0]!.size);
    let next = 0;
    let active = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        // Starts parts until as many are in flight as the limit allows (fixed, or adapted
        // after every part), so a raised limit fills at once and the tail never waits.
        const launch = () => {
          if (run.signal.aborted) {
            if (active === 0) reject(run.signal.reason);
            return;
          }
          if (next >= pending.length && active === 0) return resolve();
          while (next < pending.length && active < this.#concurrencyLimit()) {
            const part = pending[next++]!;
            active++;
            const startedAt = Date.now();
            this.#uploadPart(part, run.signal).then(
              () => {
                active--;
                this.#adapt({ type: 'part-done', bytes: part.size, startedAt, now: Date.now() });
                launch();
              },
              (error: unknown) => {
                active--;
                if (!run.signal.aborted) run.abort(error);
                launch();
              },
            );
          }
        };
        launch();
      });
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  #startConcurrency(partSize: number): void {
    if (this.#options.concurrency !== undefined) {
      this.#concurrency = undefined;
      return;
    }
    const transportMax = this.#options.transport.maxParallel;
    const options = { ...this.#options.adaptive };
    if (transportMax !== undefined) options.max = Math.min(options.max ?? transportMax, transportMax);
    this.#concurrency = initialConcurrency(partSize, Date.now(), options);
    this.emit('concurrency', { limit: this.#concurrency.limit, reason: 'start' });
  }

  #concurrencyLimit(): number {
    return this.#options.concurrency ?? this.#concurrency?.limit ?? 1;
  }

  #adapt(event: ConcurrencyEvent): void {
    const before = this.#concurrency;
    if (!before) return;
    this.#concurrency = nextConcurrency(before, event);
    if (this.#concurrency.limit !== before.limit) {
      this.emit('concurrency', { limit: this.#concurrency.limit, reason: event.type });
    }
  }

  async #uploadPart(part: PartRange, signal: AbortSignal): Promise<void> {
    const n = part.partNumber;
    let signed: SignedUrl | undefined;
    const etag = await retryLoop(
      async () => {
        signed = await this.#urlFor(n, signal);
        return this.#putOnce(part, signed, signal);
      },
      {
        policy: this.#options.retry,
        signal,
        isOnline: this.#options.isOnline,
        // Parts go to the store's origin, known once the part has a URL.
        watch: () => this.#watchFor(signed?.url ?? this.#options.api.baseUrl),
        classify: (error) => {
          const facts = retryFacts(error);
          return facts && { ...facts, canResign: true, urlExpiresAt: signed?.expiresAt };
        },
        onRetry: ({ attempt, decision }) => {
          if (decision.action === 'retry') {
            this.#progress.idle();
            this.#adapt({ type: 'failure', now: Date.now() });
          }
          this.emit('retry', { partNumber: n, what: `PUT part ${n}`, attempt, decision });
          // Only drop the URL we used: a concurrent sign may already have put a fresh one there.
          if (decision.action === 'resign' && signed && this.#urls.get(n) === signed) this.#urls.delete(n);
        },
        giveUp: (error, decision) => {
          const apiError = error as PortalApiError;
          if (apiError?.code === 'NO_SUCH_UPLOAD') return this.#noSuchUpload(apiError);
          const detail = apiError?.detail ?? errorMessage(error);
          return new UploadError('REQUEST_FAILED', `part ${n}: ${detail} (${decision.reason})`, { cause: error });
        },
      },
    );
    this.#done.set(n, etag);
    this.#sentEtags.set(n, etag);
    this.#confirmedBytes += part.size;
    this.#partsSent++;
    this.emit('part-done', { partNumber: n, etag, size: part.size });
    this.#emitProgress();
    await this.#save();
  }

  /**
   * One PUT of one part, aborted when it makes no progress for stallTimeoutMs. Resolves with
   * the ETag; rejects with a NetworkError (or StallError) without an answer, a PortalApiError
   * for any other answer.
   */
  async #putOnce(part: PartRange, signed: SignedUrl, signal: AbortSignal): Promise<string> {
    const n = part.partNumber;
    const attemptController = new AbortController();
    const forward = () => attemptController.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => attemptController.abort(new StallError(n, this.#options.stallTimeoutMs)),
        this.#options.stallTimeoutMs,
      );
    };
    arm();
    this.#inFlight.set(n, 0);
    let response: Awaited<ReturnType<PartTransport['putPart']>>;
    try {
      response = await this.#options.transport.putPart({
        url: signed.url,
        source: this.#options.source,
        partNumber: n,
        startByte: part.startByte,
        endByte: part.endByte,
        signal: attemptController.signal,
        onProgress: (sent) => {
          this.#inFlight.set(n, sent);
          arm();
          this.#emitProgress();
        },
      });
    } catch (error) {
      signal.throwIfAborted();
      throw attemptController.signal.reason instanceof StallError ? attemptController.signal.reason : error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', forward);
      this.#inFlight.delete(n);
    }
    signal.throwIfAborted();
    if (response.status !== 200) {
      throw toApiError(response.status, response.body, response.retryAfter ?? null, `PUT part ${n}`);
    }
    if (!response.etag) {
      throw new UploadError(
        'REQUEST_FAILED',
        `part ${n}: the storage answered 200 without an ETag header (a browser needs CORS "Access-Control-Expose-Headers: ETag")`,
      );
    }
    return normalizeEtag(response.etag);
  }

  /** The watch of the server or store at `url`'s origin, made (and relayed) on first use. */
  #watchFor(url: string): OutageWatch {
    const origin = originOf(url);
    let watch = this.#watches.get(origin);
    if (!watch) {
      const target = origin === originOf(this.#options.api.baseUrl) ? 'server' : 'storage';
      watch = new OutageWatch(target, origin, {
        probe: target === 'server' ? () => this.#options.api.ready() : (status) => storageAnswers(origin, status),
      });
      watch.on('waiting', (event) => this.emit('waiting', event));
      watch.on('reconnected', (event) => {
        // The outage is not slowness: measure speed from now on, as after a pause.
        this.#progress.restart(this.#confirmedBytes, Date.now());
        this.emit('reconnected', event);
        this.#emitProgress();
      });
      this.#watches.set(origin, watch);
    }
    return watch;
  }

  /** A URL for part n that has not expired; one sign call refreshes every missing part at once. */
  async #urlFor(n: number, signal: AbortSignal): Promise<SignedUrl> {
    const known = this.#urls.get(n);
    if (known && Date.now() < known.expiresAt) return known;
    if (known) this.#urls.delete(n);
    this.#signing ??= this.#sign(signal).finally(() => {
      this.#signing = undefined;
    });
    await this.#signing;
    // Use what sign just gave even if our clock says it is past expiry: with a skewed clock,
    // checking again would sign forever; the storage's own 403 URL_EXPIRED still re-signs.
    const fresh = this.#urls.get(n);
    if (!fresh) throw new UploadError('REQUEST_FAILED', `sign returned no URL for part ${n}`);
    return fresh;
  }

  async #sign(signal: AbortSignal): Promise<void> {
    const state = this.#state!;
    const partNumbers = this.#plan.map((p) => p.partNumber).filter((n) => !this.#done.has(n));
    const signed = await this.#call(
      'sign',
      (s) => this.#options.api.sign({ ...ref(state), part_numbers: partNumbers }, s),
      signal,
    );
    this.#rememberUrls(signed.parts, signed.expires_at);
  }

  #rememberUrls(parts: UploadPart[], expiresAtSeconds: number): void {
    for (const p of parts) this.#urls.set(p.part_number, { url: p.upload_url, expiresAt: expiresAtSeconds * 1000 });
  }

  async #complete(state: SavedUpload, signal: AbortSignal): Promise<CompleteResponse> {
    const parts = [...this.#done.entries()]
      .sort(([a], [b]) => a - b)
      .map(([part_number, etag]) => ({ part_number, etag }));
    const completed = await this.#call(
      'complete',
      (s) => this.#options.api.complete({ ...ref(state), file_type: state.file_type, parts }, s),
      signal,
    );
    if (!state.completed) {
      state.completed = true;
      await this.#save();
    }
    return completed;
  }

  /** One control-plane call, retried by the same loop and policy as parts. */
  #call<T>(
    what: string,
    fn: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
    policy?: Partial<RetryPolicyOptions>,
  ): Promise<T> {
    return retryLoop(() => fn(signal), {
      policy: { ...this.#options.retry, ...policy },
      signal,
      isOnline: this.#options.isOnline,
      watch: this.#watchFor(this.#options.api.baseUrl),
      onRetry: ({ attempt, decision }) => {
        if (decision.action === 'retry') this.#progress.idle();
        this.emit('retry', { partNumber: undefined, what, attempt, decision });
      },
      giveUp: (error) => {
        const apiError = error as PortalApiError;
        if (apiError?.code === 'NO_SUCH_UPLOAD') return this.#noSuchUpload(apiError);
        return new UploadError('REQUEST_FAILED', `${what}: ${(error as Error).message}`, { cause: error });
      },
    });
  }

  #noSuchUpload(cause: PortalApiError): UploadError {
    const id = this.#state?.upload_id ?? '?';
    return new UploadError(
      'NO_SUCH_UPLOAD',
      `the server no longer has upload ${id} of ${this.#options.source.name} (it was aborted or expired): ${cause.detail} Start a new upload.`,
      { cause },
    );
  }

  async #save(): Promise<void> {
    const state = this.#state;
    if (!state) return;
    state.uploaded_parts = [...this.#done.entries()].sort(([a], [b]) => a - b);
    state.updated_at = Date.now();
    const wasAvailable = this.resumeEnabled;
    try {
      await this.#options.store.save(structuredClone(state));
    } catch (error) {
      this.#saveFailed = true;
      if (wasAvailable)
        this.emit('warning', { message: `cannot save upload progress (${errorMessage(error)}); resume is off` });
      return;
    }
    if (wasAvailable && !this.resumeEnabled) {
      this.emit('warning', { message: 'cannot save upload progress (storage full or disabled); resume is off' });
    }
    this.emit('state-saved', structuredClone(state));
  }

  #emitProgress(): void {
    let inFlight = 0;
    for (const sent of this.#inFlight.values()) inFlight += sent;
    this.emit('progress', this.#progress.update(this.#confirmedBytes, inFlight, Date.now()));
  }

  #asUploadError(error: unknown, signal: AbortSignal): UploadError {
    if (error instanceof UploadError) return error;
    if (signal.aborted) {
      const reason = signal.reason;
      if (reason instanceof UploadError) return reason;
      return new UploadError('ABORTED', `upload aborted${reason instanceof Error ? `: ${reason.message}` : ''}`, {
        cause: reason,
      });
    }
    return new UploadError('REQUEST_FAILED', errorMessage(error), { cause: error });
  }
}

/**
 * Whether a store that gave no answer answers again: any HTTP answer to a HEAD of its root
 * will do (a browser's no-cors request resolves only when one came). A store that answered
 * 5xx cannot be judged this way; its requests keep to their backoff.
 */
async function storageAnswers(origin: string, status: number | undefined): Promise<boolean> {
  if (status !== undefined) return false;
  try {
    await fetch(`${origin}/`, { method: 'HEAD', mode: 'no-cors', cache: 'no-store' });
    return true;
  } catch {
    return false;
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * The part size is the server's (its CHUNK_SIZE) unless the caller chose one or the file
 * needs larger parts than the default to stay within 10 000.
 */
function chunkSizeField(fileSize: number, preferred: number | undefined): { chunk_size?: number } {
  if (preferred !== undefined) return { chunk_size: chooseChunkSize(fileSize, preferred) };
  const needed = chooseChunkSize(fileSize, DEFAULT_CHUNK_SIZE);
  return needed > DEFAULT_CHUNK_SIZE ? { chunk_size: needed } : {};
}

function ref(state: SavedUpload): UploadRef {
  return { task_id: state.task_id, upload_id: state.upload_id, object_key: state.object_key };
}

function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code =
    (error as { code?: unknown; cause?: { code?: unknown } }).cause?.code ?? (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}

/** `{...defaults, ...options}` must not let an explicit `undefined` erase a default. */
function stripUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
