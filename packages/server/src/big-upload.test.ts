/**
 * The original frontend's example in full size: a 500 MiB file (524288000 bytes) in 100 parts of 5 MiB,
 * through the real API and the filesystem store. Not timed: it asserts correctness and
 * only logs how long complete took (the benchmark in bench/ measures speed).
 */
import { createHash } from 'node:crypto';
import { randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, expect, it } from 'vitest';

const FILE_SIZE = 524288000;
const CHUNK = 5242880;
let portal: TestPortal;

beforeAll(async () => {
  portal = await startTestPortal();
});
afterAll(() => portal.close());

/** Part n's bytes: generated on demand so the test never holds 500 MB. */
const partData = (n: number, size: number) => randomBytesSeeded(size, 1000 + n);

it("uploads 500 MiB with the original frontend's values and downloads it byte-identical", async () => {
  const api = new TestApi(portal.url);
  const init = await api.init({
    filename: 'model.zip',
    file_size: FILE_SIZE,
    file_type: 'master',
    content_type: 'application/zip',
    chunk_size: CHUNK,
  });
  expect(init.status).toBe(200);
  expect(init.body.total_chunks).toBe(100);
  const whole = createHash('md5');
  const etags: string[] = new Array(100);
  const queue = [...init.body.parts];
  // Four parts in flight, as the clients do.
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        const put = await api.putPart(part.upload_url, partData(part.part_number, part.size));
        expect(put.status).toBe(200);
        etags[part.part_number - 1] = put.etag!;
      }
    }),
  );
  for (let n = 1; n <= 100; n++) whole.update(partData(n, CHUNK));
  const parts = etags.map((etag, i) => ({ part_number: i + 1, etag }));
  const ref = { task_id: init.body.task_id, upload_id: init.body.upload_id, object_key: init.body.object_key };
  const started = performance.now();
  const done = await api.post('/tasks/upload/multipart/complete', { ...ref, file_type: 'master', parts });
  const completeMs = performance.now() - started;
  expect(done.status).toBe(200);
  expect(done.body.size).toBe(FILE_SIZE);
  expect(done.body.etag).toMatch(/^[0-9a-f]{32}-100$/);
  console.log(`complete() for 500 MiB / 100 parts took ${completeMs.toFixed(1)} ms`);

  const confirmed = await api.post('/tasks/upload/confirm', {
    task_id: ref.task_id,
    master_object_key: ref.object_key,
    profile_name: 'Standard',
    version: 'v252',
    job_name: '任务名',
    submitter: '提交者',
    thread_count: '8',
    priority: '2',
  });
  expect(confirmed.body).toMatchObject({ status: 'PENDING' });

  const download = await fetch(`${portal.url}/tasks/${ref.task_id}/files/master`);
  expect(download.headers.get('content-length')).toBe(String(FILE_SIZE));
  const received = createHash('md5');
  let bytes = 0;
  for await (const chunk of download.body as unknown as AsyncIterable<Uint8Array>) {
    received.update(chunk);
    bytes += chunk.length;
  }
  expect(bytes).toBe(FILE_SIZE);
  expect(received.digest('hex')).toBe(whole.digest('hex'));
}, 300_000);
