/**
 * A submission = the job's files (master, optional include) uploaded side by side, then one
 * confirm. The include goes up as its own upload (own task id, own `upload_${task_id}` record)
 * and confirm absorbs it into the master's task (docs/api.md, confirm `include_object_key`).
 * The job fields are saved too (job-records.ts), so a submission resumed after a reload can
 * still be confirmed.
 */
import { type ConfirmFields, OutageWatch, type PortalClient, type SavedUpload, withRetry } from '@speos-portal/client';
import type { ConfirmRequest } from '@speos-portal/protocol';
import { auth } from '../api.js';
import {
  findJobRecordByInclude,
  type JobRecord,
  loadJobRecord,
  removeJobRecord,
  saveJobRecord,
} from './job-records.js';
import { Observable } from './observable.js';
import { describeFailure, type JobFailure, UploadJob, uploadStateStore } from './upload-job.js';

export type SubmissionPhase =
  | 'uploading'
  /** This tab's files are up; another file of the job still has to be resumed. */
  | 'waiting'
  | 'confirming'
  | 'submitted'
  /** Uploaded, but no job fields were saved for it: nothing to confirm. */
  | 'uploadedOnly'
  | 'failed'
  | 'cancelled';

export interface SubmissionSnapshot {
  phase: SubmissionPhase;
  /** The master's task: the job's id once confirmed. */
  taskId: string | undefined;
  /** Confirm's failure (uploads report their own). */
  failure: JobFailure | undefined;
  /** While confirming: the server does not answer (why), and confirm waits for it. */
  waitingReason: string | undefined;
}

let nextId = 1;

export class Submission extends Observable<SubmissionSnapshot> {
  readonly id = nextId++;
  readonly jobs: UploadJob[];
  readonly #api: () => PortalClient;
  #record: JobRecord | undefined;
  #confirming = false;

  private constructor(jobs: UploadJob[], api: () => PortalClient, record: JobRecord | undefined, taskId?: string) {
    super({ phase: 'uploading', taskId, failure: undefined, waitingReason: undefined });
    this.jobs = jobs;
    this.#api = api;
    this.#record = record;
  }

  /** A new job: upload the files, then confirm with `fields`. */
  static create(
    files: { master: File; include?: File | undefined },
    fields: ConfirmFields,
    api: () => PortalClient,
  ): Submission {
    const master = new UploadJob(files.master, 'master', api);
    const include = files.include ? new UploadJob(files.include, 'include', api) : undefined;
    const submission = new Submission(include ? [master, include] : [master], api, undefined);
    let includeTaskId: string | undefined;
    master.onTaskId = (taskId) => {
      submission.#record = { master_task_id: taskId, fields, saved_at: Date.now() };
      if (includeTaskId) submission.#record.include_task_id = includeTaskId;
      saveJobRecord(submission.#record);
      submission.set({ taskId });
    };
    if (include) {
      include.onTaskId = (taskId) => {
        includeTaskId = taskId;
        if (!submission.#record) return;
        submission.#record.include_task_id = taskId;
        saveJobRecord(submission.#record);
      };
    }
    void submission.#runAll();
    return submission;
  }

  /** Continues a saved upload with the file the person picked again. */
  static continueSaved(saved: SavedUpload, file: File, api: () => PortalClient): Submission {
    const job = new UploadJob(file, saved.file_type, api, saved);
    const record = saved.file_type === 'include' ? findJobRecordByInclude(saved.task_id) : loadJobRecord(saved.task_id);
    const submission = new Submission([job], api, record, record?.master_task_id ?? saved.task_id);
    void submission.#runAll();
    return submission;
  }

  /** Continues one file after pause (or every paused or failed file): only what the server lacks is sent. */
  resume(job?: UploadJob): void {
    const targets = (job ? [job] : this.jobs).filter(
      (j) => j.snapshot.phase === 'paused' || j.snapshot.phase === 'failed',
    );
    for (const j of targets) if (j.snapshot.phase === 'failed') j.retry();
    if (targets.length === 0) return;
    this.set({ phase: 'uploading', failure: undefined });
    void this.#runAll(targets);
  }

  /** Cancels the whole job: this page's files, and the job's other file if an earlier session uploaded it. */
  async cancel(): Promise<void> {
    await Promise.all(this.jobs.map((job) => job.cancel()));
    const record = this.#record;
    if (record) {
      const mine = new Set(this.jobs.map((job) => job.snapshot.taskId));
      const others = [record.master_task_id, record.include_task_id].filter(
        (id): id is string => id !== undefined && !mine.has(id),
      );
      await Promise.all(others.map((id) => this.#abortSaved(id)));
      removeJobRecord(record.master_task_id);
    }
    this.set({ phase: 'cancelled' });
  }

  async #abortSaved(taskId: string): Promise<void> {
    const saved = await uploadStateStore.load(taskId);
    if (!saved) return;
    const ref = { task_id: saved.task_id, upload_id: saved.upload_id, object_key: saved.object_key };
    await this.#api()
      .abort(ref)
      // Discarding never fails on the network: the server's expiry sweep reclaims an upload whose abort did not arrive.
      .catch(() => {});
    await uploadStateStore.remove(taskId);
  }

  /** Confirm again after it failed (e.g. a 401 fixed by entering a token). */
  retryConfirm(): void {
    void this.#confirmIfReady();
  }

  async #runAll(only: UploadJob[] = this.jobs): Promise<void> {
    await Promise.all(
      only.map(async (job) => {
        await job.run();
        // One file failing for good stops the job: pause the others at once, so bytes are not wasted.
        if (job.snapshot.phase === 'failed') for (const other of this.jobs) if (other !== job) other.pause();
      }),
    );
    if (this.jobs.some((job) => job.snapshot.phase === 'failed')) {
      if (this.jobs.some((job) => job.snapshot.failure?.kind === 'auth')) auth.ask();
      this.set({ phase: 'failed' });
      return;
    }
    if (this.jobs.every((job) => job.snapshot.phase === 'uploaded')) await this.#confirmIfReady();
  }

  /** Confirms once every file of the job is complete, here or (after a reload) in an earlier session. */
  async #confirmIfReady(): Promise<void> {
    // Two files can finish at the same moment; confirm once.
    if (this.#confirming) return;
    this.#confirming = true;
    try {
      await this.#confirm();
    } finally {
      this.#confirming = false;
    }
  }

  async #confirm(): Promise<void> {
    if (this.snapshot.phase === 'submitted') return;
    const record = this.#record;
    const mine = (type: 'master' | 'include') => this.jobs.find((j) => j.snapshot.fileType === type);
    if (!record) {
      this.set({ phase: 'uploadedOnly', taskId: this.jobs[0]?.snapshot.taskId });
      return;
    }
    const masterKey = mine('master')?.objectKey ?? (await completedKey(record.master_task_id));
    const includeKey = record.include_task_id
      ? (mine('include')?.objectKey ?? (await completedKey(record.include_task_id)))
      : undefined;
    if (!masterKey || (record.include_task_id && !includeKey)) {
      this.set({ phase: 'waiting' });
      return;
    }
    this.set({ phase: 'confirming', failure: undefined });
    const body: ConfirmRequest = {
      ...record.fields,
      task_id: record.master_task_id,
      master_object_key: masterKey,
      ...(includeKey ? { include_object_key: includeKey } : {}),
    };
    // The same patience as the uploads: a server that does not answer is waited for.
    const api = this.#api();
    const watch = new OutageWatch('server', api.baseUrl, { probe: () => api.ready() });
    watch.on('waiting', ({ reason }) => this.set({ waitingReason: reason }));
    watch.on('reconnected', () => this.set({ waitingReason: undefined }));
    try {
      await withRetry((signal) => this.#api().confirm(body, signal), { watch });
    } catch (error) {
      auth.noticeError(error);
      this.set({ phase: 'failed', failure: describeFailure(error), waitingReason: undefined });
      return;
    }
    this.set({ waitingReason: undefined });
    await Promise.all(this.jobs.map((job) => job.finish()));
    await uploadStateStore.remove(record.master_task_id);
    if (record.include_task_id) await uploadStateStore.remove(record.include_task_id);
    removeJobRecord(record.master_task_id);
    this.set({ phase: 'submitted', taskId: record.master_task_id });
  }
}

/** The object key of an upload this browser completed earlier (its saved record says so). */
async function completedKey(taskId: string): Promise<string | undefined> {
  const saved = await uploadStateStore.load(taskId);
  return saved?.completed ? saved.object_key : undefined;
}
