/** Where the portal is and who we are: flags first, then SPEOS_PORTAL_URL / SPEOS_PORTAL_TOKEN. */
import { NetworkError, PortalApiError, PortalClient, withRetry } from '@speos-portal/client';
import type { UploadConfigResponse } from '@speos-portal/protocol';
import { CliError } from './cli-error.js';

export const DEFAULT_URL = 'http://localhost:8000';

export interface ConnectionFlags {
  server?: string | undefined;
  token?: string | undefined;
}

export function connect(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): PortalClient {
  const baseUrl = flags.server || env.SPEOS_PORTAL_URL || DEFAULT_URL;
  try {
    const parsed = new URL(baseUrl);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new CliError(`not an http(s) URL: "${baseUrl}" (--server or SPEOS_PORTAL_URL)`, 2);
  }
  return new PortalClient({ baseUrl, token: flags.token || env.SPEOS_PORTAL_TOKEN || undefined });
}

/** Turns a failed API call into the one line the user sees. */
export function explain(api: PortalClient, error: unknown): CliError {
  if (error instanceof NetworkError) return new CliError(`server unreachable: ${error.message}`);
  if (error instanceof PortalApiError) {
    if (error.status === 401) {
      return new CliError(
        `the server at ${api.baseUrl} requires a valid token (--token or SPEOS_PORTAL_TOKEN): ${error.detail}`,
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
