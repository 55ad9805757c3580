// Module hooks (see as-platform.mjs): `import path from 'node:path'` yields path.win32.
const WIN32_PATH = `data:text/javascript,${encodeURIComponent(
  "import path from 'node:path'; const w = path.win32; export default w; " +
    'export const { basename, delimiter, dirname, extname, isAbsolute, join, normalize, relative, resolve, sep, toNamespacedPath, win32, posix } = w;',
)}`;

export async function resolve(specifier, context, nextResolve) {
  const fromShim = context.parentURL?.startsWith('data:');
  if ((specifier === 'node:path' || specifier === 'path') && !fromShim) return { url: WIN32_PATH, shortCircuit: true };
  return nextResolve(specifier, context);
}
