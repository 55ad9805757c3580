/**
 * How user files (uploaded inputs, solver outputs) are served: always as a download that
 * no browser renders as a page of this origin. A master uploaded with content_type
 * text/html, or a solver's report.html, could otherwise run script with the portal's
 * cookies and storage. So: `attachment`, `nosniff`, a sandboxing CSP, and a media type
 * from a short list of passive ones (anything else becomes application/octet-stream).
 */
import type { FastifyReply } from 'fastify';
import { contentDisposition } from './content-disposition.js';

/** Types a browser shows as data, never as a document with script. */
const PASSIVE_TYPES = new Set([
  'application/octet-stream',
  'application/zip',
  'application/x-zip-compressed',
  'application/gzip',
  'application/x-gzip',
  'application/x-tar',
  'application/x-7z-compressed',
  'application/json',
  'text/plain',
  'text/csv',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
]);

/** The media type to serve a user file as: its own when passive, else application/octet-stream. */
export function safeDownloadType(contentType: string | null | undefined): string {
  const [base = '', ...params] = (contentType ?? '').split(';');
  const type = base.trim().toLowerCase();
  if (!PASSIVE_TYPES.has(type)) return 'application/octet-stream';
  const charset = params.map((p) => p.trim()).find((p) => /^charset=[\w.-]+$/i.test(p));
  return type.startsWith('text/') && charset ? `${type}; ${charset.toLowerCase()}` : type;
}

/** Headers of every user-file download answered by this server. */
export function setDownloadHeaders(reply: FastifyReply, filename: string, contentType: string | null): FastifyReply {
  return reply
    .header('Content-Type', safeDownloadType(contentType))
    .header('Content-Disposition', contentDisposition(filename))
    .header('X-Content-Type-Options', 'nosniff')
    .header('Content-Security-Policy', "default-src 'none'; sandbox")
    .header('Cross-Origin-Resource-Policy', 'same-site');
}
