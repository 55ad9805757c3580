/**
 * Property-based fuzzing (fast-check) of the running server as a hostile client would:
 * every JSON route with mutated and random bodies, query strings and path parameters,
 * the part PUT with tampered URLs and bodies (with and without Expect: 100-continue), raw
 * HTTP that is barely HTTP, and one user reaching for another's tasks. The server is the
 * built `speos-portal serve` in its own process (with auth and an in-process worker), so
 * an exit is seen as an exit. Properties: no 5xx, every error is `{detail, code}`, no
 * cross-user success, the server never exits, and a completed file keeps its bytes.
 * The closing figures are printed: requests sent, 5xx answers, server exits.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { type PortalProcess, spawnPortal, tempDir } from '@speos-portal/test-support/portal.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ALICE = 'alice-token-0123456789';
const BOB = 'bob-token-0123456789ab';
const RUNS = { json: 1500, part: 400, raw: 400, crossUser: 300 };

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

interface Tally {
  sent: number;
  byStatus: Record<number, number>;
  serverErrors: string[];
  badEnvelopes: string[];
  crossUser: string[];
  noAnswer: number;
}

const tally: Tally = { sent: 0, byStatus: {}, serverErrors: [], badEnvelopes: [], crossUser: [], noAnswer: 0 };

let portal: PortalProcess;
let dataDir: string;
let exits = 0;
let finished = false;
const seed = {
  taskIds: [] as string[],
  uploads: [] as { task_id: string; upload_id: string; object_key: string }[],
  urls: [] as { url: string; size: number }[],
  master: Buffer.alloc(0) as Buffer,
  masterTask: '',
};

/** One HTTP request with full control of method, target and headers; never throws. */
function send(
  method: string,
  target: string,
  headers: Record<string, string>,
  body?: Buffer | string,
  expectContinue = false,
): Promise<Answer | undefined> {
  const { hostname, port } = new URL(portal.url);
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: Answer | undefined) => {
      if (!settled) resolve(answer);
      settled = true;
    };
    try {
      const req = request(
        {
          host: hostname,
          port,
          method,
          path: target,
          headers: {
            ...headers,
            ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
            ...(expectContinue ? { expect: '100-continue' } : {}),
          },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            done({
              status: res.statusCode ?? 0,
              contentType: String(res.headers['content-type'] ?? ''),
              body: Buffer.concat(chunks).toString(),
            }),
          );
          res.on('error', () => done(undefined));
        },
      );
      req.setTimeout(30_000, () => req.destroy());
      req.on('error', () => done(undefined));
      if (expectContinue && body !== undefined) req.on('continue', () => req.end(body));
      else req.end(body);
    } catch {
      done(undefined); // a target or header Node itself refuses to send
    }
  });
}

/** Records the answer and checks the properties every answer must have. */
function check(what: string, answer: Answer | undefined, method = 'GET'): void {
  tally.sent++;
  if (!answer) {
    tally.noAnswer++;
    return;
  }
  tally.byStatus[answer.status] = (tally.byStatus[answer.status] ?? 0) + 1;
  if (answer.status >= 500) tally.serverErrors.push(`${what} → ${answer.status} ${answer.body.slice(0, 300)}`);
  if (answer.status >= 400 && method !== 'HEAD') {
    let ok = false;
    try {
      const parsed = JSON.parse(answer.body) as { detail?: unknown; code?: unknown };
      ok = typeof parsed.detail === 'string' && parsed.detail.length > 0 && typeof parsed.code === 'string';
    } catch {}
    if (!ok || !answer.contentType.includes('json')) {
      tally.badEnvelopes.push(`${what} → ${answer.status} ${answer.body.slice(0, 200)}`);
    }
  }
}

/** encodeURIComponent, also for strings with lone surrogates (sent as U+FFFD, as UTF-8 does). */
const encode = (text: string) => encodeURIComponent(Buffer.from(text).toString());

// --- values a hostile client sends -----------------------------------------------------

const tricky = fc.constantFrom<unknown>(
  null,
  true,
  false,
  0,
  -1,
  1,
  2 ** 53,
  -(2 ** 53),
  1e300,
  5242880,
  524288001,
  '',
  ' ',
  'Infinity',
  '-Infinity',
  'NaN',
  '1e400',
  '0x10',
  '00000000-0000-0000-0000-000000000000',
  '../../etc/passwd',
  '..\\..\\boot.ini',
  'C:\\Windows\\win.ini',
  '%00',
  '\u0000',
  '\ud800',
  'x'.repeat(300),
  'x'.repeat(5000),
  '<script>alert(1)</script>',
  "'; DROP TABLE tasks; --",
  'master',
  'include',
  'application/zip',
  'text/html',
  'text/html\r\nX-Injected: 1',
  'PENDING,RUNNING',
  '车灯 模型.zip',
  '{}',
  [],
  {},
  [1, 2, 3],
  { __proto__: { polluted: true } },
);

const value = (ids: () => string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: tricky },
    { weight: 3, arbitrary: fc.nat().map((i) => ids()[i % ids().length] ?? '') }, // drawn when run: seeds exist by then
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    { weight: 2, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    {
      weight: 1,
      arbitrary: fc.array(
        fc.record({ part_number: fc.oneof(fc.integer(), tricky), etag: fc.oneof(fc.string(), tricky) }),
        { maxLength: 4 },
      ),
    },
  );

const FIELDS = [
  'filename',
  'file_size',
  'file_type',
  'content_type',
  'chunk_size',
  'task_id',
  'upload_id',
  'object_key',
  'parts',
  'part_numbers',
  'master_object_key',
  'include_object_key',
  'job_name',
  'submitter',
  'profile_name',
  'version',
  'thread_count',
  'priority',
  'display_name',
  'solver_type',
  'simulation_index',
  'ray_count',
  'duration_minutes',
  'hpc_job_name',
  'node_count',
  'walltime_hours',
  'use_gpu',
  'ansys_release',
  'project_dir',
];

const idsOf = () => [...seed.taskIds, ...seed.uploads.flatMap((u) => [u.upload_id, u.object_key])];

/** A body that is mostly right: a valid one with some fields replaced or removed. */
const mutatedBody = (valid: () => Record<string, unknown>) =>
  fc
    .tuple(
      fc.array(fc.tuple(fc.constantFrom(...FIELDS), value(idsOf), fc.boolean()), { maxLength: 3 }),
      fc.constant(null),
    )
    .map(([changes]) => {
      const body = { ...valid() };
      for (const [field, v, drop] of changes) {
        if (drop) delete body[field];
        else body[field] = v;
      }
      return JSON.stringify(body);
    });

const jsonText = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.dictionary(fc.constantFrom(...FIELDS), value(idsOf), { maxKeys: 8 }).map((o) => JSON.stringify(o)),
  },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{',
      '[]',
      'null',
      '"x"',
      '{"file_size":1e400,"filename":"a"}',
      '{"filename":"a","file_size":10,"chunk_size":"Infinity"}',
      '{"filename":"a","file_size":10,"__proto__":{"x":1}}',
      `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      `{"parts":[${Array.from({ length: 10_001 }, (_, i) => `{"part_number":${i + 1},"etag":"x"}`).join(',')}]}`,
    ),
  },
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
);

const pathValue = fc.oneof(
  fc.nat().map((i) => seed.taskIds[i % seed.taskIds.length]!),
  fc.constantFrom('00000000-0000-4000-8000-000000000000', 'abc', '..', '%2e%2e', '%', '%E0%A4%A', 'x'.repeat(101)),
  fc.uuid(),
  fc.string({ maxLength: 30 }).map(encode),
);

const query = fc
  .dictionary(
    fc.constantFrom('page', 'page_size', 'status', 'q', 'submitter', 'offset', 'limit'),
    value(idsOf).map((v) => encode(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))),
    { maxKeys: 4 },
  )
  .map((q) => {
    const text = Object.entries(q)
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    return text ? `?${text}` : '';
  });

// --- the server under attack ------------------------------------------------------------

beforeAll(async () => {
  dataDir = await tempDir('speos-fuzz-');
  portal = await spawnPortal(dataDir, {
    AUTH_TOKENS: `${ALICE}:alice,${BOB}:bob`,
    SPEOS_COMMAND_V252: `${process.execPath} ${FAKE} {master}`,
    WORKER_POLL_SECONDS: '0.5',
    LOG_LEVEL: 'error',
  });
  void portal.exited.then((how) => {
    if (finished) return; // afterAll's kill
    exits++;
    console.error(`[hostile-fuzz] the server exited (${how}):\n${portal.output().slice(-4000)}`);
  });
  const alice = new TestApi(portal.url, ALICE);
  // Ids worth aiming at: a completed master (its bytes are checked at the end), a
  // submitted task, and uploads still open with live part URLs.
  seed.master = randomBytesSeeded(7 * 1024 * 1024, 77);
  const done = await alice.uploadFile(seed.master, { filename: 'keep.speos' });
  seed.masterTask = done.init.task_id;
  seed.taskIds.push(done.init.task_id);
  seed.uploads.push(done.ref);
  const submitted = await alice.uploadFile(Buffer.from(JSON.stringify({ passes: 1 })), { filename: 'm.speos' });
  await alice.post('/tasks/upload/confirm', {
    task_id: submitted.init.task_id,
    master_object_key: submitted.init.object_key,
    job_name: 'fuzz',
  });
  seed.taskIds.push(submitted.init.task_id);
  for (let i = 0; i < 3; i++) {
    // Small parts: the fuzzed PUTs send each one many times.
    const open = (await alice.init({ filename: `open-${i}.zip`, file_size: 1000 + 4000 * i })).body;
    seed.taskIds.push(open.task_id);
    seed.uploads.push({ task_id: open.task_id, upload_id: open.upload_id, object_key: open.object_key });
    for (const part of open.parts) seed.urls.push({ url: part.upload_url, size: part.size });
  }
}, 60_000);

afterAll(async () => {
  finished = true;
  if (portal && portal.child.exitCode === null) portal.child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
  const figures = {
    requests: tally.sent,
    server_errors_5xx: tally.serverErrors.length,
    bad_envelopes: tally.badEnvelopes.length,
    cross_user_successes: tally.crossUser.length,
    server_exits: exits,
    connections_closed_without_answer: tally.noAnswer,
    by_status: tally.byStatus,
  };
  console.log(`[hostile-fuzz] ${JSON.stringify(figures)}`);
});

const token = fc.constantFrom(ALICE, ALICE, ALICE, ALICE, BOB, '', 'x'.repeat(22), 'Basic YWxpY2U6eA==');
const authHeader = (t: string) => (t.startsWith('Basic') ? `Basic ${t.slice(6)}` : t ? `Bearer ${t}` : '');

describe('hostile requests to the running server', () => {
  it('answers every JSON route without a 5xx, always with {detail, code} on errors', async () => {
    const validInit = () => ({ filename: 'f.zip', file_size: 1000 });
    const validRef = () => ({ ...seed.uploads[2]! });
    const validConfirm = () => ({
      task_id: seed.uploads[0]!.task_id,
      master_object_key: seed.uploads[0]!.object_key,
      job_name: 'j',
    });
    const routes: [string, (id: string) => string, () => Record<string, unknown>][] = [
      ['POST', () => '/tasks/upload/multipart/init', validInit],
      ['POST', () => '/api/tasks/upload/multipart/init', validInit],
      [
        'POST',
        () => '/tasks/upload/multipart/complete',
        () => ({ ...validRef(), parts: [{ part_number: 1, etag: 'x' }] }),
      ],
      ['POST', () => '/tasks/upload/confirm', validConfirm],
      ['POST', () => '/tasks/upload/multipart/list', validRef],
      ['POST', () => '/tasks/upload/multipart/sign', validRef],
      ['POST', () => '/tasks/upload/multipart/abort', validRef],
      ['POST', (id) => `/tasks/${id}/retry`, () => ({ display_name: 'again' })],
      ['POST', (id) => `/tasks/${id}/stop`, () => ({})],
      ['DELETE', (id) => `/tasks/${id}`, () => ({})],
      ['GET', () => '/tasks', () => ({})],
      ['GET', (id) => `/tasks/${id}`, () => ({})],
      ['GET', (id) => `/tasks/${id}/detail`, () => ({})],
      ['GET', (id) => `/tasks/${id}/files/master`, () => ({})],
      ['GET', (id) => `/tasks/${id}/files/${encodeURIComponent('include/../master')}`, () => ({})],
      ['GET', (id) => `/tasks/${id}/logs`, () => ({})],
      ['GET', (id) => `/tasks/${id}/outputs`, () => ({})],
      ['GET', (id) => `/tasks/${id}/outputs.zip`, () => ({})],
      ['GET', (id) => `/tasks/${id}/outputs/..%2F..%2Fetc%2Fpasswd`, () => ({})],
      ['GET', () => '/tasks/upload/config', () => ({})],
      ['HEAD', (id) => `/tasks/${id}`, () => ({})],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        pathValue,
        query,
        fc.oneof({ weight: 3, arbitrary: fc.constant('mutated') }, { weight: 2, arbitrary: jsonText }),
        contentType,
        token,
        fc.nat(),
        async ([method, path, valid], id, q, bodyChoice, type, who, pick) => {
          // Keep DELETE away from the seeded tasks: the other properties aim at them.
          const target = `${path(method === 'DELETE' && seed.taskIds.includes(id) ? crypto.randomUUID() : id)}${q}`;
          let body: string | undefined;
          if (method === 'POST') {
            body =
              bodyChoice === 'mutated' ? fc.sample(mutatedBody(valid), { numRuns: 1, seed: pick })[0]! : bodyChoice;
          }
          const headers: Record<string, string> = {};
          if (body !== undefined && type) headers['content-type'] = type;
          const auth = authHeader(who);
          if (auth) headers.authorization = auth;
          check(`${method} ${target} ${body?.slice(0, 200) ?? ''}`, await send(method, target, headers, body), method);
          return true;
        },
      ),
      { numRuns: RUNS.json },
    );
    expect(tally.serverErrors).toEqual([]);
    expect(tally.badEnvelopes).toEqual([]);
  }, 600_000);

  it('answers tampered part URLs and wrong bodies without a 5xx, with or without Expect: 100-continue', async () => {
    const tamper = fc.constantFrom('none', 'size', 'expires', 'signature', 'part', 'upload', 'drop', 'extra');
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        tamper,
        value(idsOf),
        fc.oneof(fc.constant('exact'), fc.constant('short'), fc.constant('long'), fc.constant('empty')),
        fc.boolean(),
        fc.boolean(),
        async (which, how, junk, length, expectContinue, wrongLength) => {
          const { url, size } = seed.urls[which % seed.urls.length]!;
          const u = new URL(url);
          const junkText = typeof junk === 'string' ? junk : (JSON.stringify(junk) ?? '');
          if (how === 'size' || how === 'expires' || how === 'signature') u.searchParams.set(how, junkText);
          if (how === 'part') u.pathname = u.pathname.replace(/\/parts\/\d+$/, `/parts/${encode(junkText)}`);
          if (how === 'upload') u.pathname = u.pathname.replace(/uploads\/[0-9a-f]+/, `uploads/${encode(junkText)}`);
          if (how === 'drop') u.searchParams.delete('signature');
          if (how === 'extra') u.searchParams.append('size', '1');
          const bytes = length === 'exact' ? size : length === 'short' ? size - 1 : length === 'long' ? size + 1 : 0;
          const body = randomBytesSeeded(bytes, which);
          const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
          let answer: Answer | undefined;
          if (wrongLength) {
            // A declared length that disagrees with the signed size, over a raw socket.
            answer = await rawAnswer(
              `PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: x\r\nContent-Length: ${size + 7}\r\n${expectContinue ? 'Expect: 100-continue\r\n' : ''}Connection: close\r\n\r\n`,
              randomBytesSeeded(size + 7, which),
            );
          } else {
            answer = await send('PUT', `${u.pathname}${u.search}`, headers, body, expectContinue);
          }
          check(`PUT ${how} ${length} continue=${expectContinue}`, answer, 'PUT');
          return true;
        },
      ),
      { numRuns: RUNS.part },
    );
    expect(tally.serverErrors).toEqual([]);
    expect(tally.badEnvelopes).toEqual([]);
  }, 600_000);

  it('answers raw requests that are barely HTTP, and stays up', async () => {
    const method = fc.oneof(
      fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PROPFIND'),
      fc.string({ minLength: 1, maxLength: 8 }).filter((m) => /^[A-Z]+$/.test(m)),
    );
    const target = fc.oneof(
      fc.constantFrom(
        '/',
        '//',
        '//[',
        '/%',
        '/%%',
        '/%00',
        '*',
        'http://evil.example/',
        '/tasks/../../etc/passwd',
        '/docs/static/../../package.json',
        '/assets/../../../etc/passwd',
        '/storage/uploads/x/parts/1',
        `/tasks/${'a'.repeat(150)}`,
        '/tasks?page=1&page=2',
        '/tasks?page[]=1',
        '/openapi.json',
        '/metrics',
        '/readyz',
      ),
      fc.webPath(),
      fc.string({ maxLength: 40 }).map((s) => `/${s.replace(/[\s]/g, '')}`),
    );
    const extra = fc.constantFrom(
      '',
      'Expect: 100-continue\r\n',
      'Transfer-Encoding: chunked\r\n',
      'Content-Length: -1\r\n',
      'Content-Length: 99999999999999999999\r\n',
      'Content-Length: 5\r\nContent-Length: 6\r\n',
      'Content-Type: application/json\r\nContent-Length: 1\r\n',
      'Range: bytes=9999999999999999-\r\n',
      'X-Request-Id: ../../\u00ff\r\n',
      `Authorization: Bearer ${'x'.repeat(5000)}\r\n`,
      `Cookie: ${'a=b; '.repeat(4000)}\r\n`,
    );
    await fc.assert(
      fc.asyncProperty(method, target, extra, fc.string({ maxLength: 30 }), async (m, t, e, body) => {
        const answer = await rawAnswer(
          `${m} ${t} HTTP/1.1\r\nHost: x\r\n${e}Connection: close\r\n\r\n`,
          Buffer.from(body),
        );
        check(`${m} ${t} ${e.trim()}`, answer, m);
        return true;
      }),
      { numRuns: RUNS.raw },
    );
    expect(tally.serverErrors).toEqual([]);
    expect(tally.badEnvelopes).toEqual([]);
  }, 600_000);

  it("never lets one user read or change another's tasks and uploads", async () => {
    const bobCalls: [
      string,
      (t: string, u: { task_id: string; upload_id: string; object_key: string }) => [string, unknown?],
    ][] = [
      ['GET', (t) => [`/tasks/${t}`]],
      ['GET', (t) => [`/tasks/${t}/detail`]],
      ['GET', (t) => [`/tasks/${t}/files/master`]],
      ['GET', (t) => [`/tasks/${t}/logs`]],
      ['GET', (t) => [`/tasks/${t}/outputs`]],
      ['GET', (t) => [`/tasks/${t}/outputs.zip`]],
      ['POST', (t) => [`/tasks/${t}/stop`, {}]],
      ['POST', (t) => [`/tasks/${t}/retry`, {}]],
      ['DELETE', (t) => [`/tasks/${t}`]],
      ['POST', (_t, u) => ['/tasks/upload/multipart/list', u]],
      ['POST', (_t, u) => ['/tasks/upload/multipart/sign', u]],
      ['POST', (_t, u) => ['/tasks/upload/multipart/abort', u]],
      ['POST', (_t, u) => ['/tasks/upload/multipart/complete', { ...u, parts: [{ part_number: 1, etag: 'x' }] }]],
      [
        'POST',
        (_t, u) => ['/tasks/upload/confirm', { task_id: u.task_id, master_object_key: u.object_key, job_name: 'x' }],
      ],
      [
        'POST',
        (t) => ['/tasks/upload/multipart/init', { filename: 'x.zip', file_size: 1, task_id: t, file_type: 'include' }],
      ],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...bobCalls), fc.nat(), fc.nat(), async ([method, build], i, j) => {
        const taskId = seed.taskIds[i % seed.taskIds.length]!;
        const upload = seed.uploads[j % seed.uploads.length]!;
        const [target, body] = build(taskId, upload);
        const text = body === undefined ? undefined : JSON.stringify(body);
        const headers: Record<string, string> = { authorization: `Bearer ${BOB}` };
        if (text !== undefined) headers['content-type'] = 'application/json';
        const answer = await send(method, target, headers, text);
        check(`bob ${method} ${target}`, answer, method);
        if (answer && answer.status < 400) tally.crossUser.push(`bob ${method} ${target} → ${answer.status}`);
        return true;
      }),
      { numRuns: RUNS.crossUser },
    );
    expect(tally.crossUser).toEqual([]);
  }, 600_000);

  it('is still up, and still serves the completed file byte for byte', async () => {
    expect(exits).toBe(0);
    expect(portal.child.exitCode).toBeNull();
    const health = await send('GET', '/healthz', {});
    expect(health?.status).toBe(200);
    const file = await fetch(`${portal.url}/tasks/${seed.masterTask}/files/master`, {
      headers: { authorization: `Bearer ${ALICE}` },
    });
    const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
    expect(md5(Buffer.from(await file.arrayBuffer()))).toBe(md5(seed.master));
    expect(tally.serverErrors).toEqual([]);
  });
});

/** Raw bytes on a socket; the final answer (after any 100 Continue), or undefined if the server just closed. */
function rawAnswer(head: string, body: Buffer): Promise<Answer | undefined> {
  const { hostname, port } = new URL(portal.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const finish = () => {
      const text = Buffer.concat(chunks)
        .toString('latin1')
        .replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
      const split = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      if (!status) return resolve(undefined);
      const headers = text.slice(0, split);
      // Only the first answer's body: bytes the client sent after its request may get an answer of their own.
      const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? Number.NaN);
      const rest = text.slice(split + 4);
      resolve({
        status,
        contentType: /content-type: ([^\r\n]*)/i.exec(headers)?.[1] ?? '',
        body: Buffer.from(Number.isNaN(length) ? rest : rest.slice(0, length), 'latin1').toString(),
      });
    };
    socket.on('close', finish);
    socket.on('error', () => {});
    socket.setTimeout(15_000, () => socket.destroy());
    socket.write(head);
    socket.write(body);
  });
}
