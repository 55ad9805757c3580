/** Where the portal is and who we are: flags first, then SPEOS_PORTAL_URL / SPEOS_PORTAL_TOKEN. */
import { NetworkError, PortalApiError, PortalClient, withRetry } from '@speos-portal/client';
import type { UploadConfigResponse } from '@speos-portal/protocol';
import { CliError } from './cli-error.js';
import { configPath, readCliConfig, serverKey } from './credentials.js';

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
  const saved = await readCliConfig(configPath(env));
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

/** GET /tasks/upload/config, retried briefly: a first sign of life before sending any bytes. */
export async function fetchConfig(api: PortalClient): Promise<UploadConfigResponse> {
  try {
    return await withRetry((signal) => api.config(signal), { policy: { maxAttempts: 3, baseDelayMs: 300 } });
  } catch (error) {
    throw explain(api, error);
  }
}
