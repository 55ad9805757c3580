/** Where the portal is and who we are: flags first, then SPEOS_PORTAL_URL / SPEOS_PORTAL_TOKEN. */
import { formatWait, NetworkError, OutageWatch, PortalApiError, PortalClient, withRetry } from '@speos-portal/client';
import type { UploadConfigResponse } from '@speos-portal/protocol';
import { CliError } from './cli-error.js';
import { locateConfig, readCliConfig, serverKey } from './credentials.js';

export const DEFAULT_URL = 'http://localhost:8000';

export interface ConnectionFlags {
  server?: string | undefined;
  token?: string | undefined;
}

/**
 * The portal and token to use: flags, then SPEOS_PORTAL_URL / SPEOS_PORTAL_TOKEN, then what
 * `speos-portal login` saved in the config file.
 */
export async function connect(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Promise<PortalClient> {
  const saved = await readCliConfig(await locateConfig(env));
  const baseUrl = serverKey(flags.server || env.SPEOS_PORTAL_URL || saved.server || DEFAULT_URL);
  try {
    const parsed = new URL(baseUrl);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new CliError(`not an http(s) URL: "${baseUrl}" (--server or SPEOS_PORTAL_URL)`, 2);
  }
  const token = flags.token || env.SPEOS_PORTAL_TOKEN || saved.logins?.[baseUrl]?.token || undefined;
  return new PortalClient({ baseUrl, token });
}

/** Turns a failed API call into the one line the user sees. */
export function explain(api: PortalClient, error: unknown): CliError {
  if (error instanceof NetworkError) return new CliError(`server unreachable: ${error.message}`);
  if (error instanceof PortalApiError) {
    if (error.status === 401) {
      return new CliError(
        `the server at ${api.baseUrl} requires a valid token (speos-portal login, --token or SPEOS_PORTAL_TOKEN): ${error.detail}`,
      );
    }
    return new CliError(`${error.detail}${error.code ? ` (${error.code})` : ` (HTTP ${error.status})`}`);
  }
  return error instanceof CliError ? error : new CliError(error instanceof Error ? error.message : String(error));
}

/** A read for a person at a terminal: a few quick tries, then one line saying what went wrong. */
export function quickRead<T>(api: PortalClient, fn: (signal?: AbortSignal) => Promise<T>): Promise<T> {
  return withRetry(fn, { policy: QUICK_TRIES }).catch((error: unknown) => {
    throw explain(api, error);
  });
}

const QUICK_TRIES = { maxAttempts: 3, baseDelayMs: 300, maxWaitMs: 0 };

/**
 * GET /tasks/upload/config: a first sign of life before sending any bytes. A server that does
 * not answer is waited for up to `maxWaitMs` (0: a few quick tries), saying so on `watch`.
 */
export async function fetchConfig(
  api: PortalClient,
  options: { maxWaitMs?: number; watch?: OutageWatch; signal?: AbortSignal } = {},
): Promise<UploadConfigResponse> {
  try {
    return await withRetry((signal) => api.config(signal), {
      policy: { ...QUICK_TRIES, maxWaitMs: options.maxWaitMs ?? 0 },
      ...(options.watch ? { watch: options.watch } : {}),
      signal: options.signal,
    });
  } catch (error) {
    throw explain(api, error);
  }
}

/**
 * `--max-wait`: `90` or `90s` (seconds), `10m`, `1.5h`. How long an unreachable server or
 * store is waited for before the command fails.
 */
export function parseDuration(flag: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?$/i.exec(raw.trim());
  if (!match) throw new CliError(`--${flag} must be a duration such as 90s, 10m or 1h, got "${raw}"`, 2);
  const unit = (match[2] ?? 's').toLowerCase();
  const ms = Number(match[1]) * (unit.startsWith('h') ? 3_600_000 : unit.startsWith('m') ? 60_000 : 1000);
  if (ms > 7 * 24 * 3_600_000) throw new CliError(`--${flag} must be at most 7 days, got "${raw}"`, 2);
  return Math.round(ms);
}

/** What to print while a server or store does not answer, and when it does again. */
export function describeWaiting(
  event: { target: 'server' | 'storage'; origin: string; reason: string; maxWaitMs: number },
  resumable: boolean,
): string {
  const what = event.target === 'server' ? 'the server' : 'the storage';
  const at = event.origin ? ` at ${event.origin}` : '';
  const then = resumable ? '; progress is saved, Ctrl-C stops' : '';
  return `waiting for ${what}${at} (${event.reason}); continuing by itself when it answers, for up to ${formatWait(event.maxWaitMs)}${then}`;
}

export function describeReconnected(event: { target: 'server' | 'storage'; downForMs: number }): string {
  const what = event.target === 'server' ? 'the server' : 'the storage';
  return `${what} answers again after ${formatWait(event.downForMs)}; continuing`;
}

/** An OutageWatch for the portal that reports waiting and reconnecting through `log`. */
export function watchServer(api: PortalClient, log: (line: string) => void, resumable: boolean): OutageWatch {
  const watch = new OutageWatch('server', new URL(api.baseUrl).origin, { probe: () => api.ready() });
  watch.on('waiting', (event) => log(describeWaiting(event, resumable)));
  watch.on('reconnected', (event) => log(describeReconnected(event)));
  return watch;
}
