#!/usr/bin/env node
// The original frontend's upload loop, reimplemented for the network bench: init, then one
// part at a time (no parallelism, no retry), complete, confirm — over fetch, as a browser
// would. Usage: node seq-upload.mjs FILE BASE_URL
import { open, stat } from 'node:fs/promises';
import path from 'node:path';

const [file, base] = process.argv.slice(2);
const size = (await stat(file)).size;
const post = async (p, body) => {
  const res = await fetch(`${base}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${p}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
};
const init = await post('/tasks/upload/multipart/init', { filename: path.basename(file), file_size: size });
const fd = await open(file);
const parts = [];
for (const part of init.parts) {
  const length = part.end_byte - part.start_byte;
  const body = Buffer.allocUnsafe(length);
  await fd.read(body, 0, length, part.start_byte);
  const res = await fetch(part.upload_url, { method: 'PUT', body });
  if (res.status !== 200) throw new Error(`part ${part.part_number}: HTTP ${res.status}`);
  await res.arrayBuffer();
  parts.push({ part_number: part.part_number, etag: res.headers.get('etag').replace(/"/g, '') });
}
await fd.close();
const ref = { task_id: init.task_id, upload_id: init.upload_id, object_key: init.object_key };
await post('/tasks/upload/multipart/complete', { ...ref, parts });
await post('/tasks/upload/confirm', { task_id: init.task_id, master_object_key: init.object_key, job_name: 'bench' });
