/** Real files for upload tests: random bytes, written in chunks, with their MD5. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** Writes `size` random bytes to `file`; returns the file's MD5. */
export async function writeRandomFile(file: string, size: number): Promise<string> {
  const hash = createHash('md5');
  const handle = await open(file, 'w');
  try {
    for (let written = 0; written < size; ) {
      const chunk = randomBytes(Math.min(4 * 1024 * 1024, size - written));
      hash.update(chunk);
      await handle.write(chunk);
      written += chunk.length;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

export async function md5File(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** MD5 of what the portal stored for a task's file (GET /tasks/{id}/files/{type}). */
export async function md5Stored(baseUrl: string, taskId: string, fileType = 'master', token?: string): Promise<string> {
  const res = await fetch(`${baseUrl}/tasks/${taskId}/files/${fileType}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  if (!res.ok || !res.body) throw new Error(`download failed: HTTP ${res.status} ${await res.text()}`);
  const hash = createHash('md5');
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest('hex');
}

/** A counter from the portal's /metrics (Prometheus text), e.g. speos_upload_parts_stored_total. */
export async function metric(baseUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const named = line.startsWith(`${name} `) || line.startsWith(`${name}{`);
    if (named && line.includes(labels)) total += Number(line.split(' ').pop());
  }
  return total;
}
