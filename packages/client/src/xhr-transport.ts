/** Browser part transport: XMLHttpRequest, because fetch has no upload progress events. */
import { BlobFileSource } from './blob-source.js';
import { NetworkError } from './errors.js';
import type { PartTransport, PutPartRequest, PutPartResponse } from './transport.js';

export class XhrTransport implements PartTransport {
  /** Browsers open at most 6 HTTP/1.1 connections per host; more parts would only queue. */
  readonly maxParallel = 6;

  putPart(request: PutPartRequest): Promise<PutPartResponse> {
    const { url, source, startByte, endByte, signal, onProgress } = request;
    if (!(source instanceof BlobFileSource)) {
      return Promise.reject(new TypeError('XhrTransport uploads BlobFileSource only'));
    }
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const xhr = new XMLHttpRequest();
      const onAbort = () => xhr.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => signal.removeEventListener('abort', onAbort);
      xhr.open('PUT', url);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = (event) => onProgress(event.loaded);
      xhr.onload = () => {
        cleanup();
        resolve({
          status: xhr.status,
          etag: xhr.getResponseHeader('ETag') ?? undefined,
          retryAfter: xhr.getResponseHeader('Retry-After') ?? undefined,
          body: typeof xhr.responseText === 'string' ? xhr.responseText : '',
        });
      };
      xhr.onerror = () => {
        cleanup();
        reject(new NetworkError(`network error while sending part ${request.partNumber}`));
      };
      xhr.ontimeout = xhr.onerror;
      xhr.onabort = () => {
        cleanup();
        reject(signal.reason ?? new NetworkError('part upload aborted'));
      };
      xhr.send(source.slice(startByte, endByte));
    });
  }
}
