/** How part bytes travel: XHR in browsers, node:http in Node. The uploader only sees this interface. */

/** Something to upload: a browser Blob/File or a file on disk. */
export interface FileSource {
  /** File name sent to init. */
  readonly name: string;
  readonly size: number;
  /** Epoch ms. */
  readonly lastModified: number;
  /** MIME type, when known. */
  readonly type?: string | undefined;
  /** Absolute path (Node), part of the resume lookup key. */
  readonly path?: string | undefined;
  /** Hex MD5 of bytes [start, end), for the resume content check. */
  md5(start: number, end: number, signal?: AbortSignal): Promise<string>;
}

export interface PutPartRequest {
  url: string;
  source: FileSource;
  partNumber: number;
  startByte: number;
  /** Exclusive. */
  endByte: number;
  signal: AbortSignal;
  /** Called with the bytes sent so far in this attempt (only ever grows within an attempt). */
  onProgress(bytesSent: number): void;
}

/** Any HTTP answer; network failures reject with a NetworkError instead. */
export interface PutPartResponse {
  status: number;
  /** Raw `ETag` header, if any. */
  etag: string | undefined;
  retryAfter: string | undefined;
  /** Error bodies are small JSON (`{"detail","code"}`); success bodies are empty. */
  body: string;
}

export interface PartTransport {
  putPart(request: PutPartRequest): Promise<PutPartResponse>;
  /**
   * Requests this transport can really run at once per origin (a browser's 6 connections per
   * host over HTTP/1.1); the adaptive concurrency stays within it. Undefined: no limit known.
   */
  readonly maxParallel?: number | undefined;
}
