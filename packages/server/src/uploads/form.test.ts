/**
 * `POST /tasks` as multipart/form-data against a real portal: bad forms get a 4xx and
 * leave neither a task nor a stored object behind; the size limit is per file; a repeat
 * with the same Idempotency-Key never makes a second task, even sent at once.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { MiB, randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAX = 6 * MiB;
const ALICE = 'alice-token-0123456789';
const BOB = 'bob-token-0123456789ab';

let portal: TestPortal;
let api: TestApi;

beforeAll(async () => {
  portal = await startTestPortal({ MAX_FILE_SIZE: String(MAX), MAX_THREAD_COUNT: '16' });
  api = new TestApi(portal.url);
});
afterAll(() => portal.close());

const ALL = 'status=UPLOADING,PENDING,RUNNING,SUCCESS,FAILURE,CANCELLED,ABORTED,EXPIRED&page_size=100';
const master = (size = 1000, seed = 1) => ({ data: randomBytesSeeded(size, seed), filename: 'model.speos' });

/** Tasks of every status, and what the filesystem store holds (objects, open uploads). */
async function footprint(on: TestPortal = portal, client: TestApi = api) {
  const storage = path.join(on.dataDir, 'storage');
  const list = async (dir: string) => (await readdir(path.join(storage, dir)).catch(() => [] as string[])).sort();
  return {
    tasks: (await client.get(`/tasks?${ALL}`)).body.total as number,
    objects: await list('objects'),
    uploads: await list('multipart'),
  };
}

describe('POST /tasks: refused forms change nothing', () => {
  it('knows where the filesystem store keeps its objects', async () => {
    const before = await footprint();
    const ok = await api.submitForm({ job_name: 'counted' }, { master_file: master() });
    expect(ok.status).toBe(200);
    const after = await footprint();
    expect(after.tasks).toBe(before.tasks + 1);
    expect(after.objects.length).toBe(before.objects.length + 1);
  });

  const refusals: [string, Record<string, string>, Record<string, ReturnType<typeof master>>, number, string][] = [
    ['no master file', { job_name: 'x' }, {}, 422, 'master_file: is required'],
    ['no job name', {}, { master_file: master() }, 422, 'job_name is required'],
    ['a blank job name', { job_name: '   ' }, { master_file: master() }, 422, 'job_name: must not be blank'],
    ['threads not a number', { job_name: 'x', thread_count: 'many' }, { master_file: master() }, 422, 'thread_count'],
    ['threads above the maximum', { job_name: 'x', thread_count: '17' }, { master_file: master() }, 422, 'at most 16'],
    ['a fractional priority', { job_name: 'x', priority: '2.5' }, { master_file: master() }, 422, 'priority'],
    ['use_gpu not a boolean', { job_name: 'x', use_gpu: 'yes' }, { master_file: master() }, 422, 'use_gpu'],
    ['an unknown version', { job_name: 'x', version: 'v999' }, { master_file: master() }, 422, 'not installed'],
    ['an unknown profile', { job_name: 'x', profile_name: 'Foo' }, { master_file: master() }, 422, 'not a profile'],
    ['an empty master', { job_name: 'x' }, { master_file: master(0) }, 422, 'is empty'],
    [
      'an unknown file field',
      { job_name: 'x' },
      { master_file: master(), extra: master() },
      422,
      'extra: is not a file',
    ],
    [
      'a master over MAX_FILE_SIZE',
      { job_name: 'x' },
      { master_file: { data: randomBytesSeeded(MAX + 1, 2), filename: 'big.speos' } },
      413,
      'larger than this server',
    ],
    [
      'an include over MAX_FILE_SIZE after a good master',
      { job_name: 'x' },
      { master_file: master(), include_archive: { data: randomBytesSeeded(MAX + 5000, 3), filename: 'inc.zip' } },
      413,
      'include_archive "inc.zip"',
    ],
    [
      'a file name that is only dots',
      { job_name: 'x' },
      { master_file: { data: randomBytesSeeded(10), filename: '..' } },
      422,
      'master_file: its file name',
    ],
    [
      'a text field too long',
      { job_name: 'x', project_dir: 'p'.repeat(20_000) },
      { master_file: master() },
      422,
      'project_dir',
    ],
  ];

  it.each(refusals)('refuses %s with a 4xx that says why', async (_what, fields, files, status, detail) => {
    const before = await footprint();
    const res = await api.submitForm(fields, files);
    expect(res.status).toBe(status);
    expect(res.body.detail).toContain(detail);
    expect(typeof res.body.code).toBe('string');
    // Stored files are deleted when the form is refused: no task, no object, no open upload.
    await expect.poll(() => footprint(), { timeout: 5000 }).toEqual(before);
  });

  it('takes a file of exactly MAX_FILE_SIZE, master and include each (the limit is per file)', async () => {
    const res = await api.submitForm(
      { job_name: 'at the limit' },
      {
        master_file: { data: randomBytesSeeded(MAX, 4), filename: 'm.speos' },
        include_archive: { data: randomBytesSeeded(MAX, 5), filename: 'i.zip' },
      },
    );
    expect(res.status).toBe(200);
    const task = (await api.get(`/tasks/${res.body.task_id}`)).body;
    expect(task.master.size).toBe(MAX);
    expect(task.include.size).toBe(MAX);
    const back = Buffer.from(await (await fetch(`${portal.url}/tasks/${res.body.task_id}/files/master`)).arrayBuffer());
    expect(back.equals(randomBytesSeeded(MAX, 4))).toBe(true);
  });

  it('refuses a body declared larger than two files before reading it', async () => {
    const res = await fetch(`${portal.url}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=abc', 'content-length': String(3 * MAX) },
      body: Buffer.alloc(3 * MAX),
    });
    expect(res.status).toBe(413);
    expect((await res.json()).code).toBe('FILE_TOO_LARGE');
  });

  it('answers bodies that are not a form with 4xx, never 5xx', async () => {
    const cases: [string, string, number][] = [
      ['multipart/form-data; boundary=xyz', 'not a form at all', 422],
      ['multipart/form-data', '--x\r\n', 422],
      [
        'multipart/form-data; boundary=xyz',
        '--xyz\r\nContent-Disposition: form-data; name="job_name"\r\n\r\nhalf',
        422,
      ],
      ['application/json', '{"job_name":"x"}', 415],
      ['text/plain', 'job_name=x', 415],
      ['application/x-www-form-urlencoded', 'job_name=x', 415],
      ['application/octet-stream', 'raw bytes', 415],
    ];
    for (const [type, body, status] of cases) {
      const before = await footprint();
      const res = await fetch(`${portal.url}/tasks`, { method: 'POST', headers: { 'content-type': type }, body });
      expect(res.status, `${type}: ${body}`).toBe(status);
      const answer = await res.json();
      expect(Object.keys(answer).sort()).toEqual(['code', 'detail']);
      expect(answer.detail).toContain('multipart/form-data');
      expect(await footprint()).toEqual(before);
    }
  });

  it('keeps nothing when the client goes away half-way through a file', async () => {
    const before = await footprint();
    const boundary = 'speos-test-boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="job_name"\r\n\r\ngone\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="master_file"; filename="m.speos"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    );
    const controller = new AbortController();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(stream) {
        if (sent === 0) stream.enqueue(head);
        if (sent >= 3 * MiB) {
          // The body stops mid-file; then the connection is cut.
          await new Promise((r) => setTimeout(r, 300));
          controller.abort();
          return;
        }
        stream.enqueue(randomBytesSeeded(256 * 1024, sent + 1));
        sent += 256 * 1024;
      },
    });
    await expect(
      fetch(`${portal.url}/tasks`, {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body,
        signal: controller.signal,
        duplex: 'half',
      } as RequestInit),
    ).rejects.toThrow();
    await expect.poll(() => footprint(), { timeout: 5000 }).toEqual(before);
    // The server is fine afterwards.
    expect((await api.submitForm({ job_name: 'after' }, { master_file: master() })).status).toBe(200);
  });
});

describe('POST /tasks with an Idempotency-Key', () => {
  it('answers a repeat with the first task; another form with the same key is a 409', async () => {
    const key = 'form-key-1';
    const first = await api.submitForm(
      { job_name: 'once' },
      { master_file: master(2000, 7) },
      { 'idempotency-key': key },
    );
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const before = await footprint();
    const again = await api.submitForm(
      { job_name: 'once' },
      { master_file: master(2000, 7) },
      { 'idempotency-key': key },
    );
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    // The repeat's own copy of the file was not kept.
    expect(await footprint()).toEqual(before);
    for (const [fields, seed] of [
      [{ job_name: 'other name' }, 7],
      [{ job_name: 'once' }, 8], // same name, other bytes
    ] as const) {
      const other = await api.submitForm(fields, { master_file: master(2000, seed) }, { 'idempotency-key': key });
      expect(other.status).toBe(409);
      expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(other.body.detail).toContain(`Idempotency-Key "${key}" was already used for a different request`);
    }
    expect(await footprint()).toEqual(before);
  });

  it('refuses a malformed key with 422', async () => {
    const res = await api.submitForm({ job_name: 'x' }, { master_file: master() }, { 'idempotency-key': 'has space' });
    expect(res.status).toBe(422);
    expect(res.body.detail).toContain('Idempotency-Key must be 1–255 printable ASCII characters');
  });

  it('makes one task of 8 identical forms sent at once, 20 rounds', async () => {
    for (let round = 0; round < 20; round++) {
      const before = await footprint();
      const key = `race-${round}`;
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          api.submitForm(
            { job_name: `race ${round}` },
            { master_file: master(3000, round) },
            { 'idempotency-key': key },
          ),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      expect(new Set(answers.map((a) => a.body.task_id)).size).toBe(1);
      expect(answers.filter((a) => a.headers.get('idempotent-replayed') === null)).toHaveLength(1);
      const after = await footprint();
      expect(after.tasks).toBe(before.tasks + 1);
      expect(after.objects.length).toBe(before.objects.length + 1);
    }
  });
});

describe('POST /tasks/{id}/retry with an Idempotency-Key', () => {
  it('queues one new task for a repeated retry; a different body with the key is a 409', async () => {
    const original = (await api.submitForm({ job_name: 'to retry' }, { master_file: master() })).body.task_id;
    await api.post(`/tasks/${original}/stop`, {});
    const retry = (body: unknown, key: string) =>
      fetch(`${portal.url}/tasks/${original}/retry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      }).then(async (r) => ({
        status: r.status,
        body: await r.json(),
        replayed: r.headers.get('idempotent-replayed'),
      }));
    const first = await retry({ display_name: 'again' }, 'retry-1');
    expect(first.status).toBe(200);
    const second = await retry({ display_name: 'again' }, 'retry-1');
    expect(second).toEqual({ ...first, replayed: 'true' });
    const other = await retry({ display_name: 'something else' }, 'retry-1');
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const plain = await api.post(`/tasks/${original}/retry`, { display_name: 'again' });
    expect(plain.body.new_task_id).not.toBe(first.body.new_task_id); // no key: a new task each time
    const children = (await api.get(`/tasks/${original}`)).body.retried_task_ids;
    expect(children).toEqual([first.body.new_task_id, plain.body.new_task_id]);
  });

  it('makes one task of 10 identical retries sent at once, 50 rounds', async () => {
    const original = (await api.submitForm({ job_name: 'raced retry' }, { master_file: master() })).body.task_id;
    await api.post(`/tasks/${original}/stop`, {});
    for (let round = 0; round < 50; round++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`${portal.url}/tasks/${original}/retry`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `retry-race-${round}` },
            body: '{}',
          }).then(async (r) => ({ status: r.status, body: await r.json() })),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      expect(new Set(answers.map((a) => a.body.new_task_id)).size).toBe(1);
    }
    expect((await api.get(`/tasks/${original}`)).body.retried_task_ids).toHaveLength(50);
  });

  it('lets a refused retry be sent again with the same key once it can succeed', async () => {
    const original = (await api.submitForm({ job_name: 'pending' }, { master_file: master() })).body.task_id;
    const retry = {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'later' },
      body: '{}',
    };
    const early = await fetch(`${portal.url}/tasks/${original}/retry`, retry);
    expect(early.status).toBe(409); // still PENDING: nothing was done, nothing remembered
    await api.post(`/tasks/${original}/stop`, {});
    const later = await fetch(`${portal.url}/tasks/${original}/retry`, retry);
    expect(later.status).toBe(200);
  });
});

describe('POST /tasks with auth on', () => {
  let secured: TestPortal;
  beforeAll(async () => {
    secured = await startTestPortal({ AUTH_TOKENS: `${ALICE}:alice,${BOB}:bob` });
  });
  afterAll(() => secured.close());

  it("needs a token, files the task under the user, and keeps each user's keys apart", async () => {
    const anonymous = await new TestApi(secured.url).submitForm({ job_name: 'x' }, { master_file: master() });
    expect(anonymous.status).toBe(401);
    const alice = new TestApi(secured.url, ALICE);
    const bob = new TestApi(secured.url, BOB);
    const key = { 'idempotency-key': 'shared-key' };
    const mine = await alice.submitForm({ job_name: 'mine' }, { master_file: master() }, key);
    const theirs = await bob.submitForm({ job_name: 'theirs' }, { master_file: master() }, key);
    expect(mine.status).toBe(200);
    expect(theirs.status).toBe(200);
    expect(theirs.body.task_id).not.toBe(mine.body.task_id);
    expect((await alice.get(`/tasks/${mine.body.task_id}`)).body.submitter).toBe('alice');
    expect((await bob.get(`/tasks/${mine.body.task_id}`)).status).toBe(404);
  });
});
