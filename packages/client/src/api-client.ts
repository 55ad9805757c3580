/**
 * The JSON control plane (docs/api.md) over `fetch`. Small bodies only: part bytes go through
 * a PartTransport, never through here.
 */
import type {
  AbortResponse,
  ApiTokenList,
  CompleteRequest,
  CompleteResponse,
  ConfirmRequest,
  ConfirmResponse,
  CreatedToken,
  CreateTokenRequest,
  DeviceCodeResponse,
  DeviceInfo,
  DeviceTokenIssued,
  DeviceTokenPending,
  ErrorCode,
  InitRequest,
  InitResponse,
  ListResponse,
  LogoutResponse,
  LogQuery,
  LogResponse,
  MeResponse,
  NotificationSettings,
  NotificationSettingsResponse,
  OutputsResponse,
  OwnersResponse,
  PinResponse,
  RetryRequest,
  RetryResponse,
  SignRequest,
  SignResponse,
  StopResponse,
  Task,
  TaskDetail,
  TaskListQuery,
  TaskListResponse,
  UploadConfigResponse,
  UploadRef,
  UsageByUserResponse,
  UsageResponse,
  WorkerListResponse,
} from '@speos-portal/protocol';
import { NetworkError, PortalApiError, parseRetryAfter } from './errors.js';

export interface PortalClientOptions {
  /** Base URL of the portal, e.g. `http://localhost:8000` or `https://host/api`. */
  baseUrl: string;
  /** Bearer token, when the server has auth on. */
  token?: string | undefined;
  /**
   * The fetch to use (tests, proxies, polyfills).
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
}

/**
 * @example
 * const api = new PortalClient({ baseUrl: 'http://localhost:8000' });
 * const init = await api.init({ filename: 'model.speos', file_size: 42 });
 */
export class PortalClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: PortalClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
  }

  init(body: InitRequest, signal?: AbortSignal): Promise<InitResponse> {
    return this.#post('/tasks/upload/multipart/init', body, signal);
  }
  list(ref: UploadRef, signal?: AbortSignal): Promise<ListResponse> {
    return this.#post('/tasks/upload/multipart/list', ref, signal);
  }
  sign(body: SignRequest, signal?: AbortSignal): Promise<SignResponse> {
    return this.#post('/tasks/upload/multipart/sign', body, signal);
  }
  complete(body: CompleteRequest, signal?: AbortSignal): Promise<CompleteResponse> {
    return this.#post('/tasks/upload/multipart/complete', body, signal);
  }
  abort(ref: UploadRef, signal?: AbortSignal): Promise<AbortResponse> {
    return this.#post('/tasks/upload/multipart/abort', ref, signal);
  }
  confirm(body: ConfirmRequest, signal?: AbortSignal): Promise<ConfirmResponse> {
    return this.#post('/tasks/upload/confirm', body, signal);
  }
  /**
   * True when the portal and its database and storage answer (`GET /readyz` is 200); false
   * for any other answer or none. Cheap: what a client waiting out an outage polls.
   */
  async ready(signal?: AbortSignal): Promise<boolean> {
    try {
      const response = await this.#fetch(`${this.baseUrl}/readyz`, { method: 'GET', signal: signal ?? null });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }
  config(signal?: AbortSignal): Promise<UploadConfigResponse> {
    return this.#request('GET', '/tasks/upload/config', undefined, signal);
  }
  listTasks(query: TaskListQuery = {}, signal?: AbortSignal): Promise<TaskListResponse> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const qs = params.toString();
    return this.#request('GET', `/tasks${qs ? `?${qs}` : ''}`, undefined, signal);
  }
  getTask(taskId: string, signal?: AbortSignal): Promise<Task> {
    return this.#request('GET', `/tasks/${encodeURIComponent(taskId)}`, undefined, signal);
  }
  /** Pins (keeps from retention) or unpins a task's files and log. */
  pinTask(taskId: string, pinned: boolean, signal?: AbortSignal): Promise<PinResponse> {
    return this.#request(pinned ? 'PUT' : 'DELETE', `/tasks/${encodeURIComponent(taskId)}/pin`, undefined, signal);
  }
  notificationSettings(signal?: AbortSignal): Promise<NotificationSettingsResponse> {
    return this.#request('GET', '/notifications/settings', undefined, signal);
  }
  setNotificationSettings(settings: NotificationSettings, signal?: AbortSignal): Promise<NotificationSettingsResponse> {
    return this.#request('PUT', '/notifications/settings', settings, signal);
  }
  /** The caller's stored bytes and quota. */
  usage(signal?: AbortSignal): Promise<UsageResponse> {
    return this.#request('GET', '/usage', undefined, signal);
  }
  /** Stored bytes per user (admins; anyone when the server has auth off). */
  usageByUser(signal?: AbortSignal): Promise<UsageByUserResponse> {
    return this.#request('GET', '/usage/users', undefined, signal);
  }
  /** The workers that run SPEOS jobs, online first. */
  listWorkers(signal?: AbortSignal): Promise<WorkerListResponse> {
    return this.#request('GET', '/workers', undefined, signal);
  }
  getTaskDetail(taskId: string, signal?: AbortSignal): Promise<TaskDetail> {
    return this.#request('GET', `/tasks/${encodeURIComponent(taskId)}/detail`, undefined, signal);
  }
  /** PENDING → CANCELLED at once; RUNNING → the solver is terminated first. */
  stopTask(taskId: string, signal?: AbortSignal): Promise<StopResponse> {
    return this.#post(`/tasks/${encodeURIComponent(taskId)}/stop`, {}, signal);
  }
  /**
   * A new PENDING task on the same inputs. A repeated call queues another task, unless both
   * carry the same `idempotencyKey` (e.g. a UUID per user action): then the repeat answers
   * with the first one's task, so a call whose answer was lost can be retried safely.
   */
  retryTask(
    taskId: string,
    body: RetryRequest = {},
    signal?: AbortSignal,
    options: { idempotencyKey?: string } = {},
  ): Promise<RetryResponse> {
    const headers: Record<string, string> = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {};
    return this.#request('POST', `/tasks/${encodeURIComponent(taskId)}/retry`, body, signal, headers);
  }
  /** Deletes the task with its log and outputs (204). */
  async deleteTask(taskId: string, signal?: AbortSignal): Promise<void> {
    await this.#request('DELETE', `/tasks/${encodeURIComponent(taskId)}`, undefined, signal);
  }
  /** The solver's console output from byte `offset`; poll again from `next_offset` until `finished`. */
  getLogs(taskId: string, query: LogQuery = {}, signal?: AbortSignal): Promise<LogResponse> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const qs = params.toString();
    return this.#request('GET', `/tasks/${encodeURIComponent(taskId)}/logs${qs ? `?${qs}` : ''}`, undefined, signal);
  }
  getOutputs(taskId: string, signal?: AbortSignal): Promise<OutputsResponse> {
    return this.#request('GET', `/tasks/${encodeURIComponent(taskId)}/outputs`, undefined, signal);
  }

  /** Who the token (or the browser's session) belongs to; `user` is null when nobody is signed in. */
  me(signal?: AbortSignal): Promise<MeResponse> {
    return this.#request('GET', '/auth/me', undefined, signal);
  }
  /** Ends the browser's session; `redirect_url` is where to go next (the provider's logout). */
  logout(signal?: AbortSignal): Promise<LogoutResponse> {
    return this.#request('POST', '/auth/logout', undefined, signal);
  }
  listApiTokens(signal?: AbortSignal): Promise<ApiTokenList> {
    return this.#request('GET', '/auth/tokens', undefined, signal);
  }
  /** Needs a signed-in browser session; the answer's `token` is shown this once. */
  createApiToken(body: CreateTokenRequest, signal?: AbortSignal): Promise<CreatedToken> {
    return this.#post('/auth/tokens', body, signal);
  }
  /** `current`: the token this client is using. */
  async revokeApiToken(tokenId: string, signal?: AbortSignal): Promise<void> {
    await this.#request('DELETE', `/auth/tokens/${encodeURIComponent(tokenId)}`, undefined, signal);
  }
  /** `speos-portal login`, step 1: a code for the person to approve in the browser. */
  startDeviceLogin(clientName: string, signal?: AbortSignal): Promise<DeviceCodeResponse> {
    return this.#post('/auth/device/code', { client_name: clientName }, signal);
  }
  /** Step 3: `status` is pending or slow_down until the person approves; then the new token, once. */
  pollDeviceLogin(deviceCode: string, signal?: AbortSignal): Promise<DeviceTokenIssued | DeviceTokenPending> {
    return this.#post('/auth/device/token', { device_code: deviceCode }, signal);
  }
  /** Step 2, in the browser: what is asking, then approve or deny it. */
  describeDeviceLogin(userCode: string, signal?: AbortSignal): Promise<DeviceInfo> {
    return this.#request('GET', `/auth/device/${encodeURIComponent(userCode)}`, undefined, signal);
  }
  async decideDeviceLogin(userCode: string, approve: boolean, signal?: AbortSignal): Promise<void> {
    await this.#request(
      'POST',
      `/auth/device/${encodeURIComponent(userCode)}/${approve ? 'approve' : 'deny'}`,
      undefined,
      signal,
    );
  }
  /** Admins: everyone who owns tasks (for the owner filter). */
  listOwners(signal?: AbortSignal): Promise<OwnersResponse> {
    return this.#request('GET', '/admin/owners', undefined, signal);
  }

  /**
   * GET of a download link the API handed out (an output's `url`, `download_url`): a path
   * relative to `baseUrl`, or an absolute URL (the token goes only to the portal's own origin).
   * Resolves once the headers are in, with the body unread, so callers can stream it.
   * @example const res = await api.download(outputs.download_url); // res.body: the zip
   */
  async download(pathOrUrl: string, signal?: AbortSignal): Promise<Response> {
    const absolute = /^https?:\/\//i.test(pathOrUrl);
    const url = absolute ? pathOrUrl : `${this.baseUrl}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
    const headers: Record<string, string> = {};
    if (this.#token && new URL(url).origin === new URL(this.baseUrl).origin) {
      headers.authorization = `Bearer ${this.#token}`;
    }
    let response: Response;
    try {
      response = await this.#fetch(url, { method: 'GET', headers, signal: signal ?? null });
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      throw new NetworkError(`cannot reach ${this.baseUrl}: ${describeFetchError(error)}`, { cause: error });
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw toApiError(response.status, text, response.headers.get('retry-after'), `GET ${pathOrUrl}`);
    }
    return response;
  }

  #post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.#request('POST', path, body, signal);
  }

  async #request<T>(
    method: string,
    path: string,
    body: unknown,
    signal?: AbortSignal,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await this.#fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: signal ?? null,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      throw new NetworkError(`cannot reach ${this.baseUrl}: ${describeFetchError(error)}`, { cause: error });
    }
    const text = await response.text().catch((error: unknown) => {
      throw new NetworkError(`connection lost while reading ${method} ${path}`, { cause: error });
    });
    if (!response.ok) throw toApiError(response.status, text, response.headers.get('retry-after'), `${method} ${path}`);
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      throw new PortalApiError(response.status, undefined, `${method} ${path}: the answer is not JSON`, undefined);
    }
  }
}

/** Turns an error response (ours or a proxy's) into a PortalApiError with the server's `detail`. */
export function toApiError(status: number, text: string, retryAfter: string | null, what: string): PortalApiError {
  let code: ErrorCode | undefined;
  let detail = `${what}: HTTP ${status}`;
  try {
    const parsed = JSON.parse(text) as { detail?: unknown; code?: unknown };
    if (typeof parsed.code === 'string') code = parsed.code as ErrorCode;
    if (typeof parsed.detail === 'string') detail = parsed.detail;
    else if (parsed.detail !== undefined) detail = JSON.stringify(parsed.detail);
  } catch {
    if (text.trim()) detail = `${detail} ${text.trim().slice(0, 200)}`;
  }
  return new PortalApiError(status, code, detail, parseRetryAfter(retryAfter));
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
