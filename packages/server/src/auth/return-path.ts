/**
 * Where a person goes after signing in: only a path on this portal. Anything that a browser
 * could read as another host (`//evil`, `/\evil`, `https://…`, control characters) is refused,
 * so /auth/login cannot be used as an open redirect.
 */
export function safeReturnPath(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return '/';
  if (raw.length > 2000) return undefined;
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\')) return undefined;
  // Browsers drop tabs and newlines in URLs and treat \ as /, which would turn /\t/evil into //evil.
  if ([...raw].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f || c === '\\')) return undefined;
  try {
    const base = new URL('http://portal.invalid');
    if (new URL(raw, base).origin !== base.origin) return undefined;
  } catch {
    return undefined;
  }
  return raw;
}
