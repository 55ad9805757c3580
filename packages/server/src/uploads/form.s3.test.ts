/**
 * The form submission (`POST /tasks`) in the production set-up: STORAGE=s3 (Swift + s3api)
 * and PostgreSQL. Files larger than a part go to the store as a multipart upload while
 * they arrive; a refused one leaves no object and no open upload; Idempotency-Key holds
 * under concurrency with PostgreSQL's row locks.
 */
import { randomUUID } from 'node:crypto';
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { MiB, randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import {
  createPgDatabase,
  pgTestUrl,
  s3PortalEnv,
  s3TestOptions,
  type TestDatabase,
} from '@speos-portal/test-support/services.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const s3 = s3TestOptions('form submission on S3 + PostgreSQL');
const pgServer = pgTestUrl('form submission on S3 + PostgreSQL');
const MAX = 12 * MiB;

describe.skipIf(!s3 || !pgServer)('POST /tasks with STORAGE=s3 and PostgreSQL', () => {
  let database: TestDatabase;
  let portal: TestPortal;
  let api: TestApi;
  let client: S3Client;

  beforeAll(async () => {
    database = await createPgDatabase(pgServer!);
    portal = await startTestPortal({ ...s3PortalEnv(s3!), DATABASE_URL: database.url, MAX_FILE_SIZE: String(MAX) });
    api = new TestApi(portal.url);
    client = new S3Client({
      region: s3!.region,
      endpoint: s3!.endpoint!,
      forcePathStyle: true,
      credentials: { accessKeyId: s3!.accessKeyId!, secretAccessKey: s3!.secretAccessKey! },
    });
  });
  afterAll(async () => {
    client?.destroy();
    await portal?.close();
    await database?.drop();
  });

  /** Objects and open multipart uploads in the bucket whose key ends with `name` (the bucket is shared). */
  async function inBucket(name: string) {
    const objects: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: s3!.bucket, Prefix: 'speos_tasks/', ContinuationToken: token }),
      );
      objects.push(...(page.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith(name)));
      token = page.NextContinuationToken;
    } while (token);
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: s3!.bucket, Prefix: 'speos_tasks/' }));
    return { objects, uploads: (uploads.Uploads ?? []).map((u) => u.Key!).filter((k) => k.endsWith(name)) };
  }

  it('streams a file of several parts into the bucket and serves it back byte for byte', async () => {
    const name = `${randomUUID()}.speos`;
    const data = randomBytesSeeded(MAX, 11);
    const res = await api.submitForm(
      { job_name: 'on s3', ansys_release: '2025R2' },
      { master_file: { data, filename: name }, include_archive: { data: randomBytesSeeded(100), filename: 'i.zip' } },
    );
    expect(res.status).toBe(200);
    const task = (await api.get(`/tasks/${res.body.task_id}`)).body;
    expect(task).toMatchObject({ status: 'PENDING', version: 'v252', master: { size: MAX, filename: name } });
    const download = await fetch(`${portal.url}/tasks/${res.body.task_id}/files/master`); // 302 to the store
    expect(Buffer.from(await download.arrayBuffer()).equals(data)).toBe(true);
    expect((await inBucket(name)).objects).toHaveLength(1);
  });

  it('leaves neither an object nor an open upload of a file over MAX_FILE_SIZE', async () => {
    const name = `${randomUUID()}.speos`;
    const res = await api.submitForm(
      { job_name: 'too big' },
      { master_file: { data: randomBytesSeeded(MAX + 1, 12), filename: name } },
    );
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('FILE_TOO_LARGE');
    expect(await inBucket(name)).toEqual({ objects: [], uploads: [] });
  });

  it('leaves nothing of a valid file when a field is refused', async () => {
    const name = `${randomUUID()}.speos`;
    const res = await api.submitForm(
      { job_name: 'x', thread_count: '0' },
      { master_file: { data: randomBytesSeeded(7 * MiB, 13), filename: name } },
    );
    expect(res.status).toBe(422);
    expect(await inBucket(name)).toEqual({ objects: [], uploads: [] });
  });

  it('makes one task of identical forms and retries sent at once with one key', async () => {
    for (let round = 0; round < 10; round++) {
      const key = `pg-form-${round}`;
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          api.submitForm(
            { job_name: `pg ${round}` },
            { master_file: { data: randomBytesSeeded(2000, round), filename: 'm.speos' } },
            { 'idempotency-key': key },
          ),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
      expect(new Set(answers.map((a) => a.body.task_id)).size).toBe(1);
    }
    const original = (
      await api.submitForm(
        { job_name: 'pg retry' },
        { master_file: { data: randomBytesSeeded(10), filename: 'm.speos' } },
      )
    ).body.task_id;
    await api.post(`/tasks/${original}/stop`, {});
    for (let round = 0; round < 50; round++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`${portal.url}/tasks/${original}/retry`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `pg-retry-${round}` },
            body: '{}',
          }).then(async (r) => ({ status: r.status, body: await r.json() })),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      expect(new Set(answers.map((a) => a.body.new_task_id)).size).toBe(1);
    }
    expect((await api.get(`/tasks/${original}`)).body.retried_task_ids).toHaveLength(50);
  });
});
