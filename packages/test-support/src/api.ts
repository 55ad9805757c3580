/** A small HTTP client for tests: JSON calls and raw part PUTs against a real portal. */
import type { CompletedPart, ErrorBody, InitResponse } from '@speos-portal/protocol';

export interface Response<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class TestApi {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  async request<T = any>(method: string, path: string, body?: unknown): Promise<Response<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: this.#headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  post<T = any>(path: string, body: unknown) {
    return this.request<T>('POST', path, body);
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }

  /** PUT of raw bytes to an upload URL; returns status, unquoted ETag and error body. */
  async putPart(url: string, data: Uint8Array): Promise<{ status: number; etag: string | null; body: any }> {
    const res = await fetch(url, {
      method: 'PUT',
      body: asBody(data),
      headers: { 'content-type': 'application/octet-stream' },
    });
    const text = await res.text();
    const etag = res.headers.get('etag');
    return { status: res.status, etag: etag ? etag.replace(/"/g, '') : null, body: text ? JSON.parse(text) : null };
  }

  /**
   * `POST /tasks` as multipart/form-data, as the original frontend's FormData sends it:
   * text fields, then files (name → bytes and file name).
   */
  async submitForm(
    fields: Record<string, string>,
    files: Record<string, { data: Uint8Array; filename: string; type?: string }>,
    headers: Record<string, string> = {},
    path = '/tasks',
  ): Promise<Response> {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    for (const [name, file] of Object.entries(files)) {
      form.append(
        name,
        new Blob([asBody(file.data) as BlobPart], { type: file.type ?? 'application/octet-stream' }),
        file.filename,
      );
    }
    const res = await fetch(`${this.baseUrl}${path}`, { method: 'POST', headers: this.#headers(headers), body: form });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, body: parsed, headers: res.headers };
  }

  init(body: Record<string, unknown>) {
    return this.post<InitResponse & Partial<ErrorBody>>('/tasks/upload/multipart/init', body);
  }

  /** init → PUT every part → returns what complete needs (does not call complete). */
  async uploadParts(data: Buffer, body: Record<string, unknown> = {}) {
    const init = await this.init({ filename: 'model.zip', file_size: data.length, ...body });
    if (init.status !== 200) throw new Error(`init failed: ${JSON.stringify(init.body)}`);
    const parts: CompletedPart[] = [];
    for (const part of init.body.parts) {
      const put = await this.putPart(part.upload_url, data.subarray(part.start_byte, part.end_byte));
      if (put.status !== 200)
        throw new Error(`PUT part ${part.part_number}: ${put.status} ${JSON.stringify(put.body)}`);
      parts.push({ part_number: part.part_number, etag: put.etag! });
    }
    const ref = { task_id: init.body.task_id, upload_id: init.body.upload_id, object_key: init.body.object_key };
    return { init: init.body, ref, parts };
  }

  /** The whole upload flow (docs/api.md) up to complete; returns the init answer. */
  async uploadFile(data: Buffer, body: Record<string, unknown> = {}) {
    const { init, ref, parts } = await this.uploadParts(data, body);
    const done = await this.post('/tasks/upload/multipart/complete', { ...ref, parts });
    if (done.status !== 200) throw new Error(`complete failed: ${JSON.stringify(done.body)}`);
    return { init, ref, parts };
  }
}

/** Deterministic pseudo-random bytes (fast; avoids /dev/urandom in big tests). */
export function randomBytesSeeded(size: number, seed = 1): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  for (; i < size; i++) buf[i] = i & 0xff;
  return buf;
}

export const MiB = 1024 * 1024;

/** Node's Buffer is a fine fetch body; the DOM typings only disagree about its ArrayBuffer type. */
export const asBody = (data: Uint8Array): BodyInit => data as unknown as BodyInit;
