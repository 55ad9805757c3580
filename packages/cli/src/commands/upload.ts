/**
 * `speos-portal upload FILE --job-name …`: upload (resuming if an earlier run was cut off),
 * complete and confirm. Progress is saved after every part in a JSON state file keyed by the
 * file's absolute path, size and mtime, so re-running the same command continues.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  type ConfirmFields,
  findResumableUploads,
  initialForRtt,
  type PortalClient,
  type SavedUpload,
  UploadError,
  Uploader,
  type UploadResult,
  withRetry,
} from '@speos-portal/client';
import { JsonFileStateStore, NodeFileSource, NodeHttpTransport } from '@speos-portal/client/node';
import { acceptedInputType, ConfirmRequest } from '@speos-portal/protocol';
import { CliError } from '../cli-error.js';
import {
  connect,
  describeReconnected,
  describeWaiting,
  explain,
  fetchConfig,
  parseDuration,
  watchServer,
} from '../connection.js';
import { uploadStateDir } from '../dirs.js';
import { formatBytes } from '../format.js';
import { ProgressBar } from '../progress-bar.js';
import { argumentError } from './arg-errors.js';

export const UPLOAD_USAGE = `Usage: speos-portal upload FILE --job-name NAME [options]

Uploads FILE (the SPEOS master: a .speos, .sv5 or .scdocx model, or an archive holding
one), then submits the job. If an earlier run was
interrupted (Ctrl-C, crash, reboot), running the same command again resumes it.

Options:
  --job-name NAME      job name (required, 1–200 characters)
  --submitter NAME     who submits the job
  --profile NAME       simulation profile (server default: Standard)
  --version V          SPEOS version, e.g. v252 (server default)
  --threads N          solver threads (server default: 8)
  --priority N         SPEOS process priority 0–5 (server default: 2)
  --include ARCHIVE    archive of files the master references (.zip .7z .rar .tar
                       .tar.gz .tar.bz2 .tar.xz …)
  --server URL         portal URL (env SPEOS_PORTAL_URL, default http://localhost:8000)
  --token T            bearer token (env SPEOS_PORTAL_TOKEN)
  --concurrency N      parts in flight at once (default: adapted to the link, 4 at first,
                       8 if the server is 50 ms or more away, up to 32)
  --stall-timeout S    retry a part that made no progress for S seconds (default 30)
  --max-wait DURATION  how long to wait for a server or storage that does not answer
                       (network errors, 502/503/504) before failing: 90s, 10m, 2h
                       (default 10m; 0 gives up after a few quick tries)
  --restart            forget an interrupted upload of FILE and start over
  --state-dir DIR      where progress is saved (env SPEOS_PORTAL_STATE_DIR; default
                       Linux: $XDG_STATE_HOME/speos-portal or ~/.local/state/speos-portal,
                       Windows: %LOCALAPPDATA%\\speos-portal\\Data,
                       macOS: ~/Library/Application Support/speos-portal)
  --verbose            also print every retry and re-sign
  --json               print the result as JSON on stdout, no progress
  -h, --help           show this help`;

const OPTIONS = {
  'job-name': { type: 'string' },
  submitter: { type: 'string' },
  profile: { type: 'string' },
  version: { type: 'string' },
  threads: { type: 'string' },
  priority: { type: 'string' },
  include: { type: 'string' },
  server: { type: 'string' },
  token: { type: 'string' },
  concurrency: { type: 'string' },
  'state-dir': { type: 'string' },
  'stall-timeout': { type: 'string' },
  'max-wait': { type: 'string' },
  restart: { type: 'boolean' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** How long an unreachable server or store is waited for unless --max-wait says otherwise. */
const DEFAULT_MAX_WAIT_MS = 10 * 60_000;
/** Sockets for parts when the concurrency adapts: its upper bound (32 parts in flight). */
const ADAPTIVE_MAX_SOCKETS = 32;

function integerFlag(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new CliError(`--${name} must be a whole number, got "${raw}"`, 2);
  const value = Number(raw);
  if (value < min || value > max) throw new CliError(`--${name} must be between ${min} and ${max}, got ${value}`, 2);
  return value;
}

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw argumentError(error, UPLOAD_USAGE);
  }
}

export async function uploadCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    console.log(UPLOAD_USAGE);
    return;
  }
  if (positionals.length !== 1) {
    throw new CliError(`expected exactly one FILE, got ${positionals.length}; see speos-portal upload --help`, 2);
  }
  const jobName = values['job-name']?.trim();
  if (!jobName) throw new CliError('--job-name is required', 2);
  // Its upper bound is the server's (checked once its configuration is known, below).
  const threads = integerFlag('threads', values.threads, 0, Number.MAX_SAFE_INTEGER);
  const priority = integerFlag('priority', values.priority, 0, 5);
  // Unset: the uploader adapts it to what it measures (packages/client/src/adaptive-concurrency.ts).
  const concurrency = integerFlag('concurrency', values.concurrency, 1, 64);
  const stallSeconds = integerFlag('stall-timeout', values['stall-timeout'], 1, 3600) ?? 30;
  const maxWaitMs =
    values['max-wait'] === undefined ? DEFAULT_MAX_WAIT_MS : parseDuration('max-wait', values['max-wait']);
  const json = values.json === true;
  // Checked before sending any bytes; the limits come from the protocol's schema, not retyped.
  for (const [flag, field, value] of [
    ['job-name', 'job_name', jobName],
    ['submitter', 'submitter', values.submitter],
    ['profile', 'profile_name', values.profile],
  ] as const) {
    const max = (ConfirmRequest.properties[field] as { maxLength?: number }).maxLength;
    if (value !== undefined && max !== undefined && [...value].length > max) {
      throw new CliError(`--${flag} must be at most ${max} characters, got ${[...value].length}`, 2);
    }
  }

  // The protocol's list of what the worker can open, checked before connecting or sending a byte.
  for (const [file, fileType] of [
    [positionals[0]!, 'master'],
    [values.include, 'include'],
  ] as const) {
    if (file === undefined) continue;
    const type = acceptedInputType(path.basename(file), fileType);
    if (!type.ok) throw new CliError(type.detail, 2);
  }

  const master = await NodeFileSource.open(positionals[0]!).catch((error: Error) => {
    throw new CliError(error.message);
  });
  const include = values.include
    ? await NodeFileSource.open(values.include).catch((error: Error) => {
        throw new CliError(error.message);
      })
    : undefined;

  const api = await connect(values);
  const log = (line: string) => {
    if (!json) process.stderr.write(`${line}\n`);
  };
  const server = watchServer(api, log, false);
  const transport = new NodeHttpTransport({ maxSockets: concurrency ? concurrency * 2 : ADAPTIVE_MAX_SOCKETS });
  // The parts' connections open while config and init are under way (with the built-in
  // storage the parts go to this server); docs/performance.md has the trace that showed the
  // round trip this saves.
  // The round trip it measures picks the first level. Read when the parts start (a getter
  // below), after config and init: by then it has answered; it is never waited for.
  let roundTripMs: number | undefined;
  void transport.preconnect(`${api.baseUrl}/healthz`, concurrency ?? 4).then((ms) => {
    roundTripMs = ms;
  });
  let config: Awaited<ReturnType<typeof fetchConfig>>;
  let store: JsonFileStateStore;
  try {
    config = await fetchConfig(api, { maxWaitMs, watch: server });
    for (const source of include ? [master, include] : [master]) {
      if (source.size > config.max_file_size) {
        throw new CliError(
          `${source.path} is ${formatBytes(source.size)}; this server accepts at most ${formatBytes(config.max_file_size)}`,
        );
      }
    }
    if (values.version && !config.speos_versions.includes(values.version)) {
      throw new CliError(
        `--version ${values.version} is not offered; the server has ${config.speos_versions.join(', ')}`,
        2,
      );
    }
    if (threads !== undefined && (threads < 1 || threads > config.max_thread_count)) {
      throw new CliError(
        `--threads must be between 1 and ${config.max_thread_count} on this server, got ${threads}`,
        2,
      );
    }

    store = new JsonFileStateStore(values['state-dir'] ? path.resolve(values['state-dir']) : await uploadStateDir(log));
    await forgetStale(api, store, master, values.restart === true, log);
    if (include) await forgetStale(api, store, include, values.restart === true, log);
  } catch (error) {
    transport.close(); // also ends the connections still opening
    throw error;
  }

  const controller = new AbortController();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    controller.abort(new UploadError('PAUSED', 'interrupted'));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const run = (source: NodeFileSource, fileType: 'master' | 'include', taskId?: string) => {
    const uploader = new Uploader({
      api,
      transport,
      source,
      store,
      fileType,
      taskId,
      concurrency,
      adaptive: {
        get initial() {
          return initialForRtt(roundTripMs);
        },
      },
      stallTimeoutMs: stallSeconds * 1000,
      retry: { maxWaitMs },
      keepState: true, // removed only after confirm, so a crash before it resumes instead of re-sending
      signal: controller.signal,
    });
    const bar = json ? undefined : new ProgressBar(process.stderr, source.name);
    uploader.on('resume', (r) =>
      log(
        `resuming ${source.name}: ${r.partsOnServer} of ${r.totalParts} parts already on the server (task ${r.taskId})`,
      ),
    );
    uploader.on('warning', (w) => log(`warning: ${w.message}`));
    // Said above the bar, which keeps drawing underneath.
    const say = (line: string) => (bar ? bar.note(line) : log(line));
    uploader.on('waiting', (event) => {
      bar?.waiting(event.target === 'server' ? 'waiting for the server' : 'waiting for the storage');
      say(describeWaiting(event, true));
    });
    uploader.on('reconnected', (event) => {
      bar?.waiting(undefined);
      say(describeReconnected(event));
    });
    if (values.verbose) {
      uploader.on('concurrency', ({ limit, reason }) =>
        say(`${limit} parts in flight${reason === 'start' ? '' : ` (after a ${reason})`}`),
      );
      uploader.on('retry', ({ what, attempt, decision }) => {
        const next =
          decision.action === 'retry'
            ? `retrying in ${(decision.delayMs / 1000).toFixed(1)} s`
            : decision.action === 'resign'
              ? 'signing a fresh URL'
              : 'giving up';
        say(`${what} attempt ${attempt}: ${decision.reason}; ${next}`);
      });
    }
    if (bar) uploader.on('progress', (p) => bar.update(p));
    return { uploader, done: uploader.start().finally(() => bar?.finish()) };
  };

  try {
    const main = run(master, 'master');
    const masterResult = await main.done;
    let includeResult: UploadResult | undefined;
    let includeUploader: Uploader | undefined;
    if (include) {
      const inc = run(include, 'include', masterResult.taskId);
      includeUploader = inc.uploader;
      includeResult = await inc.done;
    }
    const confirmFields: ConfirmFields = {
      job_name: jobName,
      ...(values.submitter !== undefined ? { submitter: values.submitter } : {}),
      ...(values.profile !== undefined ? { profile_name: values.profile } : {}),
      ...(values.version !== undefined ? { version: values.version } : {}),
      ...(threads !== undefined ? { thread_count: threads } : {}),
      ...(priority !== undefined ? { priority } : {}),
    };
    const confirmed = await withRetry(
      (signal) =>
        api.confirm(
          {
            ...confirmFields,
            task_id: masterResult.taskId,
            master_object_key: masterResult.objectKey,
            ...(includeResult ? { include_object_key: includeResult.objectKey } : {}),
          },
          signal,
        ),
      { signal: controller.signal, policy: { maxWaitMs }, watch: server },
    ).catch((error: unknown) => {
      throw explain(api, error);
    });
    await main.uploader.forget();
    await includeUploader?.forget();
    if (json) {
      console.log(
        JSON.stringify({
          task_id: confirmed.task_id,
          status: confirmed.status,
          message: confirmed.message,
          master: describe(masterResult),
          include: includeResult ? describe(includeResult) : null,
        }),
      );
    } else {
      log(`submitted task ${confirmed.task_id} (${confirmed.status}): ${jobName}`);
    }
  } catch (error) {
    if (interrupted) {
      throw new CliError('interrupted; progress is saved, run the same command again to resume', 130);
    }
    if (error instanceof UploadError) {
      // Transient trouble that outlasted the retries: the saved state makes a re-run cheap.
      const resumable = error.code === 'REQUEST_FAILED' && (await store.all()).some((s) => s.path === master.path);
      throw new CliError(
        resumable ? `${error.message}; progress is saved, run the same command again to resume` : error.message,
      );
    }
    throw explain(api, error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    transport.close();
  }
}

function describe(r: UploadResult) {
  return {
    object_key: r.objectKey,
    size: r.size,
    etag: r.etag,
    resumed: r.resumed,
    parts_sent: r.partsSent,
  };
}

/**
 * Saved uploads of the same path whose file has since changed (size or mtime), or all of them
 * with --restart: abort them on the server and forget them, saying so.
 */
async function forgetStale(
  api: PortalClient,
  store: JsonFileStateStore,
  source: NodeFileSource,
  restart: boolean,
  log: (line: string) => void,
): Promise<void> {
  const current = await findResumableUploads(store, {
    filename: source.name,
    size: source.size,
    lastModified: source.lastModified,
    path: source.path,
  });
  const samePath = (await store.all()).filter((s) => s.path === source.path);
  for (const state of samePath) {
    const stillMatches = current.some((c) => c.task_id === state.task_id);
    if (stillMatches && !restart) continue;
    log(
      stillMatches
        ? `--restart: discarding the interrupted upload of ${source.name} (task ${state.task_id})`
        : `${source.name} changed since its interrupted upload (${describeChange(state, source)}); starting a new upload`,
    );
    if (!state.completed) {
      await api
        .abort({ task_id: state.task_id, upload_id: state.upload_id, object_key: state.object_key })
        // Best effort on the way out: the server's expiry sweep (UPLOAD_TTL_HOURS) reclaims an upload this misses.
        .catch(() => {});
    }
    await store.remove(state.task_id);
  }
}

function describeChange(state: SavedUpload, source: NodeFileSource): string {
  if (state.size !== source.size) return `size ${state.size} → ${source.size} bytes`;
  return `modified ${new Date(state.lastModified).toISOString()} → ${new Date(source.lastModified).toISOString()}`;
}
