/**
 * `Content-Disposition: attachment` that keeps UTF-8 names (RFC 6266 / RFC 5987):
 * an ASCII fallback for old clients, then `filename*` with the real name.
 * @example contentDisposition('车灯.zip') // attachment; filename="__.zip"; filename*=UTF-8''%E8%BD%A6%E7%81%AF.zip
 */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
