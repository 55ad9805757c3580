/**
 * One run of one task on this worker: inputs → solver (own process group, no shell) →
 * log, progress and heartbeats while it runs → outputs and the final status.
 *
 * Backend outages do not cost results: heartbeats run from claim to the end, the log waits
 * (log-sink.ts) while the database is down, and the inputs' download and a finished run's
 * outputs, log and status are retried (wait-out.ts) until the object store and the database
 * answer, up to WORKER_OUTAGE_WAIT_HOURS. The working directory, the only copy of the results
 * until they are stored, is removed only after that.
 */
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { ApiError, type ProgressInfo } from '@speos-portal/protocol';
import type { Clock } from '../clock.js';
import { isDatabaseUnavailable, unavailableReason } from '../db/availability.js';
import { type Db, databaseHealth } from '../db/connect.js';
import type { TaskRow, UploadRow } from '../db/schema.js';
import type { Logger } from '../logger.js';
import type { ObjectStore } from '../storage/object-store.js';
import { appendLog, logTail } from '../tasks/logs.js';
import { findUploadsById } from '../tasks/presentation-rows.js';
import { buildCommand, solverOptions } from './command.js';
import type { WorkerConfig } from './config.js';
import type { Executor, QueueState, SolverExit, SolverRun } from './executors/executor.js';
import { type PreparedInputs, prepareInputs, TaskFailure } from './inputs.js';
import { LogSink } from './log-sink.js';
import { changedFiles, clearOutputs, putOutput, recordOutput, type Snapshot, snapshot } from './outputs.js';
import { EMPTY_PROGRESS, readProgressLine } from './progress.js';
import { finishTask, heartbeat, saveProgress, saveQueueState, setRunMessage } from './queue.js';
import { waitOut } from './wait-out.js';

export interface RunDeps {
  db: Db;
  store: ObjectStore;
  config: WorkerConfig;
  clock: Clock;
  log: Logger;
  executor: Executor;
}

/**
 * What a run needs to go on after a restart of its worker while its Slurm job runs: where
 * the inputs are and which files were there before the solver started.
 */
const RUN_RECORD_FILE = 'speos-portal-run.json';

/** Where a task's working directory is: shared with the compute nodes for Slurm. */
export function runRoot(config: WorkerConfig): string {
  return config.executor.kind === 'slurm' ? config.executor.workdirRoot : config.workDir;
}

const PROGRESS_SAVE_MS = 1000;
/** Name of the file in the working directory that holds log text the database has not taken yet. */
export const UNWRITTEN_LOG_FILE = 'log-not-yet-in-database.txt';
/**
 * Present in a working directory while it holds results that are not stored yet. A later run
 * of the same task (after this worker was killed meanwhile) moves such a directory aside
 * instead of deleting it.
 */
export const RESULTS_PENDING_FILE = 'RESULTS-NOT-YET-STORED';

/** Why a run stopped waiting: the task was stopped, or another worker owns it now. */
class Halted extends Error {
  constructor(readonly why: 'cancel' | 'lost') {
    super(why === 'cancel' ? 'stop requested' : 'lease lost');
    this.name = 'Halted';
  }
}

type FinishFields = Parameters<typeof finishTask>[5];

export class TaskRun {
  readonly #deps: RunDeps;
  readonly #task: TaskRow;
  readonly #runDir: string;
  readonly #log: LogSink;
  #progress: ProgressInfo = EMPTY_PROGRESS;
  #progressSavedAt = 0;
  /** The solver while it runs (a local process group or a Slurm job). */
  #solver: SolverRun | undefined;
  /** Set when this worker follows a Slurm job it did not submit (after a restart). */
  readonly #attachJobId: string | undefined;
  /** The run stopped following a Slurm job that goes on: the task is left for the next worker. */
  #detached = false;
  /** Text of the solver's last line until its end arrives. */
  #partial = '';
  /** Why the solver is being stopped, once it is. */
  #stopping: 'cancel' | 'lost' | 'shutdown' | undefined;
  /** The task is no longer RUNNING (stopped without this worker): a Slurm job must end too. */
  #taskEnded = false;
  /** Lines for internal_detail: operators' business, never shown to users. */
  readonly #notes: string[] = [];
  #phase: 'preparing' | 'solving' | 'finishing' = 'preparing';
  /** Aborted when the task is stopped or its lease is lost: ends any wait of the run. */
  readonly #halt = new AbortController();
  /** Aborted only when the lease is lost: recording a stop still waits for the database. */
  readonly #lost = new AbortController();
  #beating: Promise<void> | undefined;
  #beatTimer: ReturnType<typeof setInterval> | undefined;
  #heartbeatFailing = false;
  #waitingFor: 'object store' | undefined;
  /** Past this, the run stops waiting for its backends (reset when the solver ends). */
  #resultsDeadline = Number.POSITIVE_INFINITY;
  /** The outcome is recorded: later heartbeats find the task no longer RUNNING, which is no loss. */
  #finished = false;

  constructor(deps: RunDeps, task: TaskRow, options: { attachJobId?: string } = {}) {
    this.#deps = deps;
    this.#task = task;
    this.#attachJobId = options.attachJobId;
    this.#runDir = path.join(runRoot(deps.config), task.task_id);
    this.#log = new LogSink(
      (text, start) => appendLog(deps.db, task.task_id, text, start),
      Number(task.log_size ?? 0),
      path.join(this.#runDir, UNWRITTEN_LOG_FILE),
    );
  }

  get taskId(): string {
    return this.#task.task_id;
  }

  /** True when the run ended by no longer following a Slurm job that goes on. */
  get detached(): boolean {
    return this.#detached;
  }

  /**
   * This worker is shutting down. Before or during the solver: stop it (the task goes back to
   * the queue). Once the solver has finished, its results are stored first.
   */
  shutdown(): void {
    if (this.#phase === 'finishing') return;
    this.#stopping ??= 'shutdown';
    this.#kill();
  }

  async run(): Promise<void> {
    const { db, clock, config } = this.#deps;
    const id = this.#task.task_id;
    /** True while the working directory holds results that are not stored yet. */
    let keepDir = false;
    this.#beatTimer = setInterval(() => void this.#beatOnce(), Math.min(1000, (config.leaseSeconds * 1000) / 3));
    // After a database outage, renew at the first sign it is back rather than at the next tick:
    // other workers wait a whole lease before they take a lapsed one for a dead worker's.
    const unlisten = databaseHealth(db).listen({ up: () => void this.#beatOnce() });
    this.#resultsDeadline = clock() + config.outageWaitHours * 3600 * 1000;
    try {
      const prepared = this.#attachJobId ? await this.#readRunRecord() : await this.#prepare();
      const { inputs, before } = prepared;
      this.#phase = 'solving';
      const exit = await this.#runSolver(inputs.masterPath, inputs.inputDir);
      if (exit.detached) {
        this.#detached = true;
        return;
      }
      this.#phase = 'finishing';
      this.#resultsDeadline = clock() + config.outageWaitHours * 3600 * 1000;
      if (this.#stopping === 'cancel') {
        await this.#finish('CANCELLED', () => ({
          message: 'stopped by request',
          terminated_processes: this.#solver?.terminated() ?? [],
        }));
        return;
      }
      if (this.#stopping) return; // lost the lease or shutting down: someone else owns it now
      if (exit.code === 0 && !exit.failure) {
        keepDir = true;
        await writeFile(path.join(this.#runDir, RESULTS_PENDING_FILE), `${new Date(clock()).toISOString()}\n`);
        const count = await this.#storeOutputs(inputs.inputDir, before);
        this.#appendLog(`[speos-portal] stored ${count} result file(s)\n`);
        await this.#finish('SUCCESS', () => ({}), { ...this.#progress, progress_percent: 100 });
        keepDir = false;
        await rm(path.join(this.#runDir, RESULTS_PENDING_FILE), { force: true });
        return;
      }
      const how = exit.code !== null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
      const message = exit.failure ?? `SPEOS stopped with ${how}`;
      if (exit.failure) this.#appendLog(`[speos-portal] ${exit.failure}\n`);
      await this.#finish('FAILURE', async () => ({
        message,
        error_detail: await logTail(db, id),
      }));
    } catch (error) {
      keepDir = await this.#onError(error, keepDir);
    } finally {
      clearInterval(this.#beatTimer);
      unlisten();
      await this.#beating;
      if (keepDir) {
        this.#deps.log.warn({ task_id: id, dir: this.#runDir }, 'results not stored; keeping the working directory');
      } else if (this.#detached) {
        // The job goes on and writes here: the worker that follows it next needs the directory.
      } else if (!config.keepWorkDirs) {
        await rm(this.#runDir, { recursive: true, force: true }).catch((error) =>
          this.#deps.log.warn({ task_id: id, dir: this.#runDir, err: error }, 'could not remove the working directory'),
        );
      }
    }
  }

  /** Downloads and unpacks the inputs into a fresh working directory. */
  async #prepare(): Promise<{ inputs: PreparedInputs; before: Snapshot }> {
    const { db, config } = this.#deps;
    await this.#clearRunDir();
    await mkdir(this.#runDir, { recursive: true });
    // Paths and the command line are the operator's business: they go to the worker's
    // log and the task's internal_detail, never to the log or error_detail users read.
    this.#note(`worker ${config.workerId} on ${hostname()}, run directory ${this.#runDir}`);
    this.#appendLog('[speos-portal] preparing inputs\n');
    const uploads = await this.#whenDatabase(
      () =>
        findUploadsById(
          db,
          [this.#task.master_upload_id, this.#task.include_upload_id].filter((u): u is string => !!u),
        ),
      this.#halt.signal,
    );
    const master = uploads.get(this.#task.master_upload_id ?? '');
    if (!master) throw new TaskFailure('the task has no master file');
    const include: UploadRow | undefined = this.#task.include_upload_id
      ? uploads.get(this.#task.include_upload_id)
      : undefined;
    let tries = 0;
    const inputs = await waitOut(
      async () => {
        // A try cut off by the outage may have left half an archive: start each one clean.
        if (tries++ > 0) await this.#emptyRunDir();
        return prepareInputs(this.#deps.store, this.#runDir, master, include, config.extract);
      },
      {
        transient: isStoreUnavailable,
        deadline: this.#resultsDeadline,
        signal: this.#halt.signal,
        probe: () => this.#deps.store.check(),
        onWait: (error) => this.#waitingForStore(error, 'preparing inputs'),
        onRecovered: (waitedMs) => this.#storeIsBack(waitedMs, 'downloading the inputs'),
      },
    );
    const before = await snapshot(inputs.inputDir);
    if (this.#deps.executor.kind === 'slurm') {
      const record = { inputs, before: [...before] };
      await writeFile(path.join(this.#runDir, RUN_RECORD_FILE), JSON.stringify(record));
    }
    return { inputs, before };
  }

  /** A run of a Slurm job submitted before this worker started: what the submitting run wrote down. */
  async #readRunRecord(): Promise<{ inputs: PreparedInputs; before: Snapshot }> {
    this.#note(`worker ${this.#deps.config.workerId} on ${hostname()} follows Slurm job ${this.#attachJobId}`);
    try {
      const record = JSON.parse(await readFile(path.join(this.#runDir, RUN_RECORD_FILE), 'utf8')) as {
        inputs: PreparedInputs;
        before: [string, string][];
      };
      return { inputs: record.inputs, before: new Map(record.before) };
    } catch (error) {
      this.#note(`cannot read ${path.join(this.#runDir, RUN_RECORD_FILE)}: ${String(error)}`);
      throw new TaskFailure(
        `the working directory of Slurm job ${this.#attachJobId} is gone; the results cannot be collected`,
      );
    }
  }

  /**
   * Records why the run ended early; returns whether the working directory must be kept
   * (results that could not be stored, unless the task was stopped or is someone else's now).
   */
  async #onError(error: unknown, resultsUnstored: boolean): Promise<boolean> {
    const { config } = this.#deps;
    const id = this.#task.task_id;
    if (this.#stopping === 'lost' || (error instanceof Halted && error.why === 'lost')) return false;
    if (this.#stopping === 'shutdown' && this.#phase !== 'finishing') return false;
    const cancelled = this.#stopping === 'cancel';
    const keepDir = resultsUnstored && !cancelled;
    // A TaskFailure is written for users; anything else may name paths: users get the task id
    // to quote, the worker's log and internal_detail get the error itself.
    let failure: TaskFailure;
    if (error instanceof TaskFailure) failure = error;
    else if (keepDir) {
      this.#note(`results kept in ${this.#runDir}`);
      failure = new TaskFailure(
        `the results could not be stored (${storeReason(error)}); they are kept on worker ${config.workerId} (the task's internal detail names the folder)`,
      );
    } else failure = new TaskFailure(`the worker could not run the task (its log names the error with task id ${id})`);
    if (!(error instanceof TaskFailure) && !(error instanceof Halted)) {
      this.#deps.log.error({ task_id: id, err: error }, 'task run failed');
      this.#note(`worker error: ${(error as Error).stack ?? String(error)}`);
    }
    if (!cancelled) this.#appendLog(`[speos-portal] ${failure.message}\n`);
    await this.#finish(cancelled ? 'CANCELLED' : 'FAILURE', async () => ({
      message: cancelled ? 'stopped by request' : failure.message,
      error_detail: failure.detail ?? (await logTail(this.#deps.db, id).catch(() => null)),
      ...(cancelled ? { terminated_processes: this.#solver?.terminated() ?? [] } : {}),
    })).catch((finishError: unknown) =>
      this.#deps.log.error({ task_id: id, err: finishError }, 'could not record the end of the run'),
    );
    return keepDir;
  }

  /** Everything in the working directory but the log text still waiting for the database. */
  async #emptyRunDir(): Promise<void> {
    for (const entry of await readdir(this.#runDir)) {
      if (entry !== UNWRITTEN_LOG_FILE) await rm(path.join(this.#runDir, entry), { recursive: true, force: true });
    }
  }

  /** Empties the working directory for a new run; one that still holds unstored results is moved aside. */
  async #clearRunDir(): Promise<void> {
    const pending = await access(path.join(this.#runDir, RESULTS_PENDING_FILE)).then(
      () => true,
      () => false,
    );
    if (pending) {
      const aside = `${this.#runDir}.unstored-results-${this.#deps.clock()}`;
      await rename(this.#runDir, aside);
      this.#deps.log.warn(
        { task_id: this.taskId, dir: aside },
        'an earlier run left results that were never stored; moved them aside',
      );
      return;
    }
    await rm(this.#runDir, { recursive: true, force: true });
  }

  /**
   * Stores every file the solver created or changed. An unreachable store (or database) is
   * waited out; the task's message says so meanwhile.
   */
  async #storeOutputs(dir: string, before: Snapshot): Promise<number> {
    const { db, store } = this.#deps;
    const id = this.#task.task_id;
    const files = await changedFiles(dir, before);
    await this.#whenDatabase(() => clearOutputs(db, id), this.#halt.signal);
    for (const relative of files) {
      const stored = await waitOut(() => putOutput(store, id, dir, relative), {
        // A local file that cannot be read will not get better; everything the store says might.
        transient: (error) => !isLocalFileError(error, dir),
        deadline: this.#resultsDeadline,
        signal: this.#halt.signal,
        // Asking the store whether it is back is cheap; sending a large file to find out is not.
        probe: () => store.check(),
        onWait: (error) => this.#waitingForStore(error, 'storing results'),
        onRecovered: (waitedMs) => this.#storeIsBack(waitedMs, 'storing the results'),
      });
      await this.#whenDatabase(() => recordOutput(db, id, relative, stored), this.#halt.signal);
    }
    return files.length;
  }

  /** Says once per outage, in the task's message and log, what the run waits for. */
  #waitingForStore(error: unknown, doing: 'preparing inputs' | 'storing results'): void {
    if (this.#waitingFor) return;
    this.#waitingFor = 'object store';
    const { db, config, clock } = this.#deps;
    const until = new Date(this.#resultsDeadline).toISOString();
    const message = `${doing}: waiting for the object store (${storeReason(error)})`;
    this.#appendLog(`[speos-portal] ${message}; retrying until ${until}\n`);
    this.#deps.log.warn({ task_id: this.taskId, err: describe(error) }, `${doing}: waiting for the object store`);
    // Best effort: the message only tells users why the run waits; the database may be what is away.
    void setRunMessage(db, this.taskId, config.workerId, message, clock()).catch(() => {});
  }

  #storeIsBack(waitedMs: number, going: string): void {
    if (!this.#waitingFor) return;
    this.#waitingFor = undefined;
    const { db, config, clock } = this.#deps;
    const seconds = Math.round(waitedMs / 1000);
    this.#appendLog(`[speos-portal] the object store answers again after ${seconds} s; ${going}\n`);
    this.#deps.log.info({ task_id: this.taskId, waited_seconds: seconds }, 'the object store answers again');
    // Best effort, as above: the task's log already says the store is back.
    void setRunMessage(db, this.taskId, config.workerId, null, clock()).catch(() => {});
  }

  /** Writes the whole log, then the outcome; each waits for the database if it cannot be reached. */
  async #finish(
    status: 'SUCCESS' | 'FAILURE' | 'CANCELLED',
    fields: () => FinishFields | Promise<FinishFields>,
    progress?: ProgressInfo,
  ): Promise<void> {
    const { db, config, clock } = this.#deps;
    const id = this.#task.task_id;
    if (this.#resultsDeadline === Number.POSITIVE_INFINITY) {
      this.#resultsDeadline = clock() + config.outageWaitHours * 3600 * 1000;
    }
    await this.#whenDatabase(async () => {
      if (!(await this.#log.flush())) throw this.#log.lastError;
    }, this.#lost.signal);
    if (progress) {
      await this.#whenDatabase(() => saveProgress(db, id, config.workerId, progress, clock()), this.#lost.signal);
    }
    const values = await this.#whenDatabase(
      async () => ({ ...(await fields()), internal_detail: this.#notes.join('\n') }),
      this.#lost.signal,
    );
    await this.#whenDatabase(() => finishTask(db, id, config.workerId, status, clock(), values), this.#lost.signal);
    this.#finished = true;
    this.#log.discard();
  }

  #whenDatabase<T>(step: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return waitOut(step, {
      transient: isDatabaseUnavailable,
      deadline: this.#resultsDeadline,
      signal,
      probe: () => this.#deps.db.selectFrom('tasks').select('task_id').limit(1).execute(),
    });
  }

  /** A line for internal_detail (operators and, later, admins; never shown to users). */
  #note(line: string): void {
    this.#notes.push(line);
  }

  #command(masterPath: string, inputDir: string): string[] {
    const { commands } = this.#deps.config;
    const version = this.#task.version ?? '';
    const template = commands.get(version.toLowerCase()) ?? commands.get('*');
    if (!template) throw new TaskFailure(`no solver command is configured for SPEOS ${version} on this worker`);
    const params = JSON.parse(this.#task.params) as Record<string, unknown>;
    return buildCommand(
      template,
      {
        master: masterPath,
        master_dir: path.dirname(masterPath),
        master_name: path.basename(masterPath),
        include_dir: inputDir,
        workdir: this.#runDir,
        thread_count: String(this.#task.thread_count ?? 8),
        priority: String(this.#task.priority ?? 2),
        job_name: this.#task.job_name ?? '',
        task_id: this.#task.task_id,
        version,
      },
      solverOptions(params),
    );
  }

  async #runSolver(masterPath: string, inputDir: string): Promise<SolverExit> {
    const argv = this.#command(masterPath, inputDir);
    const { executor } = this.#deps;
    const cwd = path.dirname(masterPath);
    if (!this.#attachJobId) {
      // Preparing inputs can take a while (a 500 MB download): a stop asked meanwhile, or
      // this worker shutting down, must keep the solver from starting at all.
      await this.#beatNow();
      if (this.#stopping) return { code: null, signal: 'SIGTERM' };
      this.#note(`command: ${argv.map((a) => JSON.stringify(a)).join(' ')} (in ${cwd})`);
      this.#deps.log.info({ task_id: this.#task.task_id, argv, cwd, executor: executor.kind }, 'starting the solver');
      this.#appendLog(`[speos-portal] starting SPEOS ${this.#task.version ?? ''}\n`);
    }
    const request = {
      task: this.#task,
      argv,
      cwd,
      runDir: this.#runDir,
      onOutput: (text: string) => this.#onSolverOutput(text),
      onNote: (line: string) => this.#note(line),
      onQueue: (state: QueueState) => this.#onQueue(state),
      log: this.#deps.log,
    };
    this.#solver =
      this.#attachJobId && executor.attach
        ? await executor.attach(request, this.#attachJobId)
        : await executor.start(request);
    if (this.#stopping) this.#kill(); // stopped while it was being started
    const exit = await this.#solver.exit;
    if (this.#partial) this.#readProgress(this.#partial);
    this.#partial = '';
    return exit;
  }

  #onSolverOutput(text: string): void {
    this.#appendLog(text);
    const lines = (this.#partial + text).split(/\r?\n|\r/);
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#readProgress(line);
  }

  /** Records where a Slurm job is: its id at once (a restarted worker follows it by that), then its state. */
  async #onQueue(state: QueueState): Promise<void> {
    const { db, config, clock } = this.#deps;
    if (state.state === 'RUNNING') this.#appendLog(`[speos-portal] Slurm job ${state.jobId} is running\n`);
    else if (state.submitted) this.#appendLog(`[speos-portal] submitted to Slurm as job ${state.jobId}\n`);
    const save = () => saveQueueState(db, this.#task.task_id, config.workerId, state, clock());
    // The job id must be stored: without it a restarted worker could not find the job again.
    if (state.submitted) await this.#whenDatabase(save, this.#lost.signal);
    else await save().catch(() => {});
  }

  /** A heartbeat now, after any that is in flight (which may predate what we want to see). */
  async #beatNow(): Promise<void> {
    await this.#beating;
    await this.#beatOnce();
  }

  /** One heartbeat at a time: while the database hangs, beats must not pile up. */
  #beatOnce(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  async #beat(): Promise<void> {
    const { db, config, clock } = this.#deps;
    const id = this.#task.task_id;
    if (this.#finished) return;
    try {
      const state = await heartbeat(db, id, config.workerId, config.leaseSeconds * 1000, clock());
      if (this.#finished) return;
      if (this.#heartbeatFailing) {
        this.#heartbeatFailing = false;
        this.#deps.log.info({ task_id: id }, 'heartbeat renewed the lease again');
      }
      if (state.lost && this.#stopping !== 'lost') {
        this.#stopping = 'lost';
        this.#taskEnded = state.ended;
        this.#deps.log.warn({ task_id: id }, 'lease lost; stopping the solver');
        this.#halt.abort(new Halted('lost'));
        this.#lost.abort(new Halted('lost'));
        this.#kill();
        return;
      }
      if (state.cancelRequested && !this.#stopping) {
        this.#stopping = 'cancel';
        this.#appendLog(
          this.#phase === 'finishing'
            ? '[speos-portal] stop requested; not storing the results\n'
            : '[speos-portal] stop requested; terminating the solver\n',
        );
        this.#halt.abort(new Halted('cancel'));
        this.#kill();
      }
    } catch (error) {
      // Said once per outage: the database's own record logs it for the whole process too.
      if (!this.#heartbeatFailing) {
        this.#heartbeatFailing = true;
        this.#deps.log.warn(
          { task_id: id, err: unavailableReason(error) },
          'heartbeat failed; the solver keeps running and its log waits',
        );
      }
      return;
    }
    await this.#log.flush();
    if (this.#progressSavedAt > 0 && clock() - this.#progressSavedAt >= PROGRESS_SAVE_MS) {
      this.#progressSavedAt = 0;
      await saveProgress(db, id, config.workerId, this.#progress, clock()).catch(() => {
        this.#progressSavedAt = clock(); // try again next beat
      });
    }
  }

  /** Ends (or, for a Slurm job that goes on, stops following) the solver, for the reason in #stopping. */
  #kill(): void {
    const why = this.#stopping;
    if (!why) return;
    this.#solver?.stop(this.#taskEnded ? 'cancel' : why);
  }

  #readProgress(line: string): void {
    const next = readProgressLine(line, this.#progress, this.#deps.config.patterns);
    if (!next) return;
    this.#progress = next;
    if (this.#progressSavedAt === 0) this.#progressSavedAt = this.#deps.clock();
  }

  #appendLog(text: string): void {
    this.#log.append(text);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * What an unreachable store said, short: "ECONNREFUSED", "HTTP 503 ServiceUnavailable" (from
 * s3-store.ts's "The object store did not answer PutObject (…); try again shortly.").
 */
function storeReason(error: unknown): string {
  const message = describe(error);
  if (error instanceof ApiError && error.code === 'STORAGE_UNAVAILABLE') {
    const inner = /\(([^()]+)\)/.exec(message)?.[1];
    if (inner) return inner;
  }
  return message;
}

/** The store said it cannot be reached (s3-store.ts and the filesystem store map their failures to this code). */
function isStoreUnavailable(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'STORAGE_UNAVAILABLE';
}

/** An error reading a file of the run itself (vanished, unreadable), as opposed to one from the store. */
function isLocalFileError(error: unknown, dir: string): boolean {
  const file = (error as { path?: unknown })?.path;
  return typeof file === 'string' && file.startsWith(dir);
}
