/** Worker settings from the environment, checked at start with the variable's name. */
import { hostname } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../config-error.js';
import { readBoolean, readNumber } from '../settings.js';
import { DEFAULT_EXTRACT_SETTINGS, type ExtractSettings } from './archive/limits.js';
import { checkZipEncoding } from './archive/zip-encoding.js';
import { checkTemplate, splitTemplate } from './command.js';
import { type ProgressPatterns, parsePatterns } from './progress.js';

export interface WorkerConfig {
  /** Names this worker in leases and logs. */
  workerId: string;
  /** Tasks run at once (WORKER_SLOTS). */
  slots: number;
  /** Per-task working directories live here. */
  workDir: string;
  /** A claimed task is this worker's until the lease lapses without a heartbeat. */
  leaseSeconds: number;
  /** Claims per task before a lost worker makes it FAILURE instead of PENDING again. */
  maxAttempts: number;
  pollSeconds: number;
  /** After SIGTERM to a stopped solver, how long before SIGKILL. */
  stopGraceSeconds: number;
  /** SPEOS version → command template; `*` for SPEOS_COMMAND (every version). */
  commands: Map<string, string>;
  patterns: ProgressPatterns;
  /** Keep working directories after a run (for debugging). */
  keepWorkDirs: boolean;
  /** How far an input archive may expand, and how unmarked zip names are decoded. */
  extract: ExtractSettings;
  /**
   * How long a run waits for an unreachable object store or database (to download its
   * inputs, store its results, write its log and outcome) before it gives up; results it
   * could not store stay in the working directory.
   */
  outageWaitHours: number;
  /** Where solvers run: here, or as Slurm jobs (EXECUTOR and the SLURM_* settings below). */
  executor: ExecutorConfig;
  /** Licence pools (LICENSES="speos:4"): name → how many jobs may hold one at once. */
  licenses: Map<string, number>;
}

export type ExecutorConfig =
  | { kind: 'local' }
  | {
      kind: 'slurm';
      /** Working directories on a filesystem the compute nodes share (SLURM_WORKDIR_ROOT). */
      workdirRoot: string;
      sbatchArgs: string[];
      pollSeconds: number;
      /** SLURM_CONF for the Slurm tools, if set in the worker's environment. */
      conf?: string;
    };

type Env = Record<string, string | undefined>;

/** SPEOS_COMMAND_V252=… → v252; SPEOS_COMMAND=… → every version. */
export function solverCommands(env: Env): Map<string, string> {
  const commands = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    const match = /^SPEOS_COMMAND(?:_([A-Za-z0-9]+))?$/.exec(name);
    if (!match || !value?.trim()) continue;
    try {
      checkTemplate(value);
    } catch (error) {
      throw new ConfigError(name, (error as Error).message);
    }
    commands.set(match[1] ? match[1].toLowerCase() : '*', value.trim());
  }
  return commands;
}

function extractSettings(env: Env): ExtractSettings {
  const encoding = env.ZIP_FILENAME_ENCODING?.trim().toLowerCase() || DEFAULT_EXTRACT_SETTINGS.zipFilenameEncoding;
  if (!checkZipEncoding(encoding)) {
    throw new ConfigError(
      'ZIP_FILENAME_ENCODING',
      `must be "auto" or an encoding such as gbk, gb18030, cp437, shift_jis; got "${encoding}"`,
    );
  }
  return {
    maxRatio: readNumber(env, 'EXTRACT_MAX_RATIO'),
    maxEntries: Math.floor(readNumber(env, 'EXTRACT_MAX_ENTRIES')),
    zipFilenameEncoding: encoding,
  };
}

// ---- Executor and licences (EXECUTOR, SLURM_*, LICENSES): README "Running on Slurm". ----

/** LICENSES="speos:4,speos_hpc:16" → {speos → 4, speos_hpc → 16}. */
export function parseLicenses(raw: string | undefined): Map<string, number> {
  const pools = new Map<string, number>();
  for (const item of (raw ?? '').split(',').map((s) => s.trim())) {
    if (!item) continue;
    const match = /^([A-Za-z0-9_.-]+):(\d+)$/.exec(item);
    const count = match ? Number(match[2]) : 0;
    if (!match || count < 1 || count > 100_000) {
      throw new ConfigError('LICENSES', `must be name:count pairs separated by commas, e.g. "speos:4"; got "${item}"`);
    }
    if (pools.has(match[1]!)) throw new ConfigError('LICENSES', `names the licence ${match[1]} twice`);
    pools.set(match[1]!, count);
  }
  return pools;
}

function executorConfig(env: Env): ExecutorConfig {
  const kind = env.EXECUTOR?.trim().toLowerCase() || 'local';
  if (kind === 'local') return { kind };
  if (kind !== 'slurm') throw new ConfigError('EXECUTOR', `must be "local" or "slurm", got "${env.EXECUTOR}"`);
  const root = env.SLURM_WORKDIR_ROOT?.trim();
  if (!root || !path.isAbsolute(root)) {
    throw new ConfigError(
      'SLURM_WORKDIR_ROOT',
      'must be an absolute path on a filesystem the compute nodes share when EXECUTOR=slurm',
    );
  }
  let sbatchArgs: string[];
  try {
    sbatchArgs = splitTemplate(env.SLURM_SBATCH_ARGS ?? '');
  } catch (error) {
    throw new ConfigError('SLURM_SBATCH_ARGS', (error as Error).message);
  }
  const conf = env.SLURM_CONF?.trim();
  return {
    kind,
    workdirRoot: path.resolve(root),
    sbatchArgs,
    pollSeconds: readNumber(env, 'SLURM_POLL_SECONDS'),
    ...(conf ? { conf } : {}),
  };
}

export function loadWorkerConfig(env: Env, dataDir: string): WorkerConfig {
  let patterns: ProgressPatterns;
  try {
    patterns = parsePatterns(env.SPEOS_PROGRESS_PATTERNS);
  } catch (error) {
    throw new ConfigError('SPEOS_PROGRESS_PATTERNS', (error as Error).message);
  }
  return {
    workerId: env.WORKER_ID?.trim() || `${hostname()}-${process.pid}`,
    slots: Math.floor(readNumber(env, 'WORKER_SLOTS')),
    workDir: path.resolve(env.WORKER_DIR?.trim() || path.join(dataDir, 'work')),
    leaseSeconds: readNumber(env, 'WORKER_LEASE_SECONDS'),
    maxAttempts: Math.floor(readNumber(env, 'WORKER_MAX_ATTEMPTS')),
    pollSeconds: readNumber(env, 'WORKER_POLL_SECONDS'),
    stopGraceSeconds: readNumber(env, 'WORKER_STOP_GRACE_SECONDS'),
    commands: solverCommands(env),
    patterns,
    keepWorkDirs: readBoolean(env, 'WORKER_KEEP_DIRS'),
    extract: extractSettings(env),
    outageWaitHours: readNumber(env, 'WORKER_OUTAGE_WAIT_HOURS'),
    executor: executorConfig(env),
    licenses: parseLicenses(env.LICENSES),
  };
}
