/**
 * One run of one task on this worker: inputs → solver (own process group, no shell) →
 * log, progress and heartbeats while it runs → outputs and the final status.
 */
import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { ProgressInfo, TerminatedProcess } from '@speos-portal/protocol';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connect.js';
import type { TaskRow, UploadRow } from '../db/schema.js';
import type { ObjectStore } from '../storage/object-store.js';
import { findUploadsById } from '../tasks/repository.js';
import { buildCommand, solverOptions } from './command.js';
import type { WorkerConfig } from './config.js';
import { prepareInputs, TaskFailure } from './inputs.js';
import { forgetSolver, recordSolver } from './leftovers.js';
import { appendLog, logTail } from './logs.js';
import { collectOutputs, snapshot } from './outputs.js';
import { groupAlive, processAlive, processGroupMembers, runningMembers, signalGroup } from './process-group.js';
import { EMPTY_PROGRESS, readProgressLine } from './progress.js';
import { finishTask, heartbeat, saveProgress } from './queue.js';
import { spawnSupervised } from './watchdog.js';

export interface RunDeps {
  db: Db;
  store: ObjectStore;
  config: WorkerConfig;
  clock: Clock;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

const LOG_FLUSH_BYTES = 64 * 1024;
const PROGRESS_SAVE_MS = 1000;

export class TaskRun {
  readonly #deps: RunDeps;
  readonly #task: TaskRow;
  readonly #runDir: string;
  #pendingLog = '';
  #logWrite: Promise<unknown> = Promise.resolve();
  #progress: ProgressInfo = EMPTY_PROGRESS;
  #progressSavedAt = 0;
  #pgid: number | undefined;
  #stopping: 'cancel' | 'lost' | 'shutdown' | undefined;
  #terminated: TerminatedProcess[] = [];
  readonly #notes: string[] = [];

  constructor(deps: RunDeps, task: TaskRow) {
    this.#deps = deps;
    this.#task = task;
    this.#runDir = path.join(deps.config.workDir, task.task_id);
  }

  get taskId(): string {
    return this.#task.task_id;
  }

  /** Stops the solver because this worker is shutting down (the task goes back to the queue). */
  shutdown(): void {
    this.#stopping ??= 'shutdown';
    this.#kill();
  }

  async run(): Promise<void> {
    const { db, clock, config } = this.#deps;
    const id = this.#task.task_id;
    try {
      await rm(this.#runDir, { recursive: true, force: true });
      await mkdir(this.#runDir, { recursive: true });
      const uploads = await findUploadsById(
        db,
        [this.#task.master_upload_id, this.#task.include_upload_id].filter((u): u is string => !!u),
      );
      const master = uploads.get(this.#task.master_upload_id ?? '');
      if (!master) throw new TaskFailure('the task has no master file');
      const include: UploadRow | undefined = this.#task.include_upload_id
        ? uploads.get(this.#task.include_upload_id)
        : undefined;
      // Paths and the command line are the operator's business: they go to the worker's
      // log and the task's internal_detail, never to the log or error_detail users read.
      this.#note(`worker ${config.workerId} on ${hostname()}, run directory ${this.#runDir}`);
      this.#appendLog('[speos-portal] preparing inputs\n');
      // Downloading and extracting a large archive can outlast the lease: keep it alive meanwhile.
      const preparing = setInterval(() => void this.#beat(), Math.min(1000, (config.leaseSeconds * 1000) / 3));
      const inputs = await prepareInputs(this.#deps.store, this.#runDir, master, include, config.extract).finally(() =>
        clearInterval(preparing),
      );
      const before = await snapshot(inputs.inputDir);
      const exit = await this.#runSolver(inputs.masterPath, inputs.inputDir);
      await this.#flushLog();
      if (this.#stopping === 'cancel') {
        await finishTask(db, id, config.workerId, 'CANCELLED', clock(), {
          message: 'stopped by request',
          terminated_processes: this.#terminated,
          internal_detail: this.#internalDetail(),
        });
        return;
      }
      if (this.#stopping) return; // lost the lease or shutting down: someone else owns it now
      if (exit.code === 0) {
        const count = await collectOutputs(db, this.#deps.store, id, inputs.inputDir, before);
        this.#appendLog(`[speos-portal] stored ${count} result file(s)\n`);
        await this.#flushLog();
        await saveProgress(db, id, config.workerId, { ...this.#progress, progress_percent: 100 }, clock());
        await finishTask(db, id, config.workerId, 'SUCCESS', clock(), { internal_detail: this.#internalDetail() });
        return;
      }
      const how = exit.code !== null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
      await finishTask(db, id, config.workerId, 'FAILURE', clock(), {
        message: `SPEOS stopped with ${how}`,
        error_detail: await logTail(db, id),
        internal_detail: this.#internalDetail(),
      });
    } catch (error) {
      await this.#flushLog().catch(() => {});
      if (this.#stopping && this.#stopping !== 'cancel') return;
      // A TaskFailure is written for users; anything else may name paths: users get the
      // task id to quote, the worker's log and internal_detail get the error itself.
      const failure =
        error instanceof TaskFailure
          ? error
          : new TaskFailure(`the worker could not run the task (its log names the error with task id ${id})`);
      if (!(error instanceof TaskFailure)) {
        this.#deps.log('task run failed', { task_id: id, err: String(error) });
        this.#note(`worker error: ${(error as Error).stack ?? String(error)}`);
      }
      this.#appendLog(`[speos-portal] ${failure.message}\n`);
      await this.#flushLog().catch(() => {});
      await finishTask(db, id, config.workerId, this.#stopping === 'cancel' ? 'CANCELLED' : 'FAILURE', clock(), {
        message: this.#stopping === 'cancel' ? 'stopped by request' : failure.message,
        error_detail: failure.detail ?? (await logTail(db, id).catch(() => null)),
        internal_detail: this.#internalDetail(),
      }).catch(() => {});
    } finally {
      if (!config.keepWorkDirs) await rm(this.#runDir, { recursive: true, force: true }).catch(() => {});
    }
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

  async #runSolver(masterPath: string, inputDir: string): Promise<{ code: number | null; signal: string | null }> {
    const argv = this.#command(masterPath, inputDir);
    // Preparing inputs can take a while (a 500 MB download): a stop asked meanwhile, or
    // this worker shutting down, must keep the solver from starting at all.
    await this.#beat();
    if (this.#stopping) return { code: null, signal: 'SIGTERM' };
    const { config } = this.#deps;
    const cwd = path.dirname(masterPath);
    this.#note(`command: ${argv.map((a) => JSON.stringify(a)).join(' ')} (in ${cwd})`);
    this.#deps.log('starting the solver', { task_id: this.#task.task_id, argv, cwd });
    this.#appendLog(`[speos-portal] starting SPEOS ${this.#task.version ?? ''}\n`);
    // Under a watchdog: if this worker dies, however it dies, the solver goes with it.
    const { child, started } = spawnSupervised(argv, { cwd, graceMs: config.stopGraceSeconds * 1000 });
    this.#pgid = child.pid;
    let partial = '';
    const onOutput = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.#appendLog(text);
      const lines = (partial + text).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) this.#readProgress(line);
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    // Heart-beat from now on: starting two processes can take seconds on a busy machine.
    const beat = setInterval(() => void this.#beat(), Math.min(1000, (config.leaseSeconds * 1000) / 3));
    const outcome = await started;
    if ('error' in outcome) {
      clearInterval(beat);
      await closed;
      child.stdin.destroy();
      this.#note(`could not start ${argv[0]}: ${outcome.error}`);
      this.#deps.log('could not start the solver', {
        task_id: this.#task.task_id,
        command: argv[0],
        err: outcome.error,
      });
      throw new TaskFailure(
        `the solver for SPEOS ${this.#task.version ?? ''} could not be started on this worker (its log has the reason)`,
      );
    }
    const pgid = child.pid!;
    await recordSolver(config.workDir, this.#task.task_id, config.workerId, pgid).catch((error) =>
      this.#deps.log('could not record the solver', { task_id: this.#task.task_id, err: String(error) }),
    );
    if (this.#stopping) this.#kill(); // stopped while it was being started
    const exit = await closed;
    clearInterval(beat);
    child.stdin.destroy();
    // Whatever the solver started and left behind does not outlive the run either.
    if ((await runningMembers(pgid)).length > 0) signalGroup(pgid, 'SIGKILL');
    await forgetSolver(config.workDir, this.#task.task_id).catch(() => {});
    if (partial) this.#readProgress(partial);
    return exit;
  }

  /** A line for internal_detail (operators and, later, admins; never shown to users). */
  #note(line: string): void {
    this.#notes.push(line);
  }

  #internalDetail(): string {
    return this.#notes.join('\n');
  }

  async #beat(): Promise<void> {
    const { db, config, clock } = this.#deps;
    try {
      const state = await heartbeat(db, this.#task.task_id, config.workerId, config.leaseSeconds * 1000, clock());
      if (state.lost && !this.#stopping) {
        this.#stopping = 'lost';
        this.#deps.log('lease lost; stopping the solver', { task_id: this.#task.task_id });
        this.#kill();
      } else if (state.cancelRequested && !this.#stopping) {
        this.#stopping = 'cancel';
        this.#appendLog('[speos-portal] stop requested; terminating the solver\n');
        this.#kill();
      }
      await this.#flushLog();
      if (this.#progressSavedAt > 0 && clock() - this.#progressSavedAt >= PROGRESS_SAVE_MS) {
        this.#progressSavedAt = 0;
        await saveProgress(db, this.#task.task_id, config.workerId, this.#progress, clock());
      }
    } catch (error) {
      this.#deps.log('heartbeat failed', { task_id: this.#task.task_id, err: String(error) });
    }
  }

  /** SIGTERM to the whole group, SIGKILL after the grace period if anything is left. */
  #kill(): void {
    const pgid = this.#pgid;
    if (pgid === undefined) return;
    void processGroupMembers(pgid).then((members) => {
      // The group's leader is the watchdog, not one of the solver's processes.
      this.#terminated = members.filter((m) => m.pid !== pgid).map((m) => ({ ...m, method: 'terminated' }));
      signalGroup(pgid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (!groupAlive(pgid)) return;
        // What outlived SIGTERM is killed: the stop answer says so per process.
        for (const member of this.#terminated) if (processAlive(member.pid)) member.method = 'killed';
        signalGroup(pgid, 'SIGKILL');
      }, this.#deps.config.stopGraceSeconds * 1000);
      timer.unref();
    });
  }

  #readProgress(line: string): void {
    const next = readProgressLine(line, this.#progress, this.#deps.config.patterns);
    if (!next) return;
    this.#progress = next;
    if (this.#progressSavedAt === 0) this.#progressSavedAt = this.#deps.clock();
  }

  #appendLog(text: string): void {
    this.#pendingLog += text;
    if (Buffer.byteLength(this.#pendingLog) >= LOG_FLUSH_BYTES) void this.#flushLog();
  }

  /** Writes buffered output in order (each write waits for the previous one); runs on every heartbeat and every 64 KB. */
  #flushLog(): Promise<unknown> {
    const text = this.#pendingLog;
    this.#pendingLog = '';
    if (text)
      this.#logWrite = this.#logWrite.then(() => appendLog(this.#deps.db, this.#task.task_id, text)).catch(() => {});
    return this.#logWrite;
  }
}
