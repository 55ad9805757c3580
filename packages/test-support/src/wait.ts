/**
 * Polls `read` until `ok` accepts its value (returned), or fails after `ms` naming `what`
 * and showing the last value read — for tests that wait on a task, a row or a file. The
 * default is generous: it only matters when the test fails, and busy CI machines are slow.
 */
export async function waitFor<T>(
  read: () => Promise<T> | T,
  ok: (value: T) => boolean,
  what: string,
  ms = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
