/**
 * Concurrent identical requests, each race run ≥ 50 times against one real portal (real
 * SQLite, real files; the S3 variant against Swift): every round must end the same way.
 * Each test prints its figures (rounds, requests, outcomes) for the closing note.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { md5, startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { s3PortalEnv, s3TestOptions } from '@speos-portal/test-support/services.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../db/connect.js';

const ROUNDS = 50;
const AT_ONCE = 12;
/** 50 rounds take seconds on an idle machine, minutes on a loaded CI one. */
const RACE_TIMEOUT_MS = 300_000;

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return Number(match?.[1] ?? 0);
}

const tally = (statuses: number[]) =>
  Object.fromEntries([...new Set(statuses)].map((s) => [s, statuses.filter((x) => x === s).length]));

describe('races on one portal (filesystem store)', () => {
  let portal: TestPortal;
  let api: TestApi;
  let db: Db;
  beforeAll(async () => {
    portal = await startTestPortal();
    api = new TestApi(portal.url);
    db = await openDatabase(undefined, portal.dataDir);
  }, RACE_TIMEOUT_MS);
  afterAll(async () => {
    await db.destroy();
    await portal.close();
  }, RACE_TIMEOUT_MS);

  it(
    `answers ${AT_ONCE} concurrent identical completes alike, ${ROUNDS} rounds`,
    async () => {
      const before = await metric(portal.url, 'speos_uploads_completed_total');
      const statuses: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const data = randomBytesSeeded(1000 + round, round + 1);
        const { ref, parts } = await api.uploadParts(data);
        // The same list with and without quotes: one request as far as the contract goes.
        // Starts are spread over a few milliseconds, as requests from a network arrive, so
        // some land while another complete is between the store and the database.
        const answers = await Promise.all(
          Array.from({ length: AT_ONCE }, async (_, i) => {
            await sleep(i * 2);
            return api.post('/tasks/upload/multipart/complete', {
              ...ref,
              parts: parts.map((p) => ({ ...p, etag: i % 2 ? `"${p.etag}"` : p.etag })),
            });
          }),
        );
        statuses.push(...answers.map((a) => a.status));
        for (const answer of answers) {
          expect(answer.status, JSON.stringify(answer.body)).toBe(200);
          expect(answer.body).toEqual(answers[0]!.body);
        }
        expect(answers[0]!.body.size).toBe(data.length);
        const stored = await fetch(`${portal.url}/tasks/${ref.task_id}/files/master`);
        expect(md5(Buffer.from(await stored.arrayBuffer()))).toBe(md5(data));
      }
      // Each upload was recorded as completed exactly once.
      expect((await metric(portal.url, 'speos_uploads_completed_total')) - before).toBe(ROUNDS);
      console.log(`[races] complete: ${ROUNDS} rounds × ${AT_ONCE} concurrent → ${JSON.stringify(tally(statuses))}`);
    },
    RACE_TIMEOUT_MS,
  );

  it(
    `answers a complete with another part list 409 once the upload is completed, ${ROUNDS} rounds`,
    async () => {
      const outcomes: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const { ref, parts } = await api.uploadParts(randomBytesSeeded(800, 1000 + round));
        const good = { ...ref, parts };
        const other = { ...ref, parts: parts.map((p) => ({ ...p, etag: 'f'.repeat(32) })) };
        const answers = await Promise.all(
          Array.from({ length: AT_ONCE }, (_, i) => api.post('/tasks/upload/multipart/complete', i % 3 ? good : other)),
        );
        for (const [i, answer] of answers.entries()) {
          if (i % 3) {
            expect(answer.status, JSON.stringify(answer.body)).toBe(200);
          } else {
            // Before the completion: the ETag does not match the stored part; after: 409.
            expect(['400 ETAG_MISMATCH', '409 UPLOAD_ALREADY_COMPLETED']).toContain(
              `${answer.status} ${answer.body.code}`,
            );
          }
          outcomes.push(`${answer.status} ${answer.body.code ?? 'OK'}`);
        }
        const after = await api.post('/tasks/upload/multipart/complete', other);
        expect(after.status).toBe(409);
        expect(after.body.code).toBe('UPLOAD_ALREADY_COMPLETED');
      }
      console.log(
        `[races] complete, two lists: ${ROUNDS} rounds → ${JSON.stringify(Object.fromEntries([...new Set(outcomes)].map((o) => [o, outcomes.filter((x) => x === o).length])))}`,
      );
    },
    RACE_TIMEOUT_MS,
  );

  it(
    `submits a task once for ${AT_ONCE} concurrent identical confirms, ${ROUNDS} rounds`,
    async () => {
      const statuses: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const { init } = await api.uploadFile(randomBytesSeeded(500, 7 + round));
        const body = { task_id: init.task_id, master_object_key: init.object_key, job_name: `job ${round}` };
        const answers = await Promise.all(
          Array.from({ length: AT_ONCE }, () => api.post('/tasks/upload/confirm', body)),
        );
        statuses.push(...answers.map((a) => a.status));
        for (const answer of answers) {
          expect(answer.status, JSON.stringify(answer.body)).toBe(200);
          expect(answer.body).toEqual({ task_id: init.task_id, status: 'PENDING', message: 'Task submitted' });
        }
        const detail = (await api.get(`/tasks/${init.task_id}/detail`)).body;
        expect(detail.status_history.map((h: { status: string }) => h.status)).toEqual(['UPLOADING', 'PENDING']);
      }
      console.log(`[races] confirm: ${ROUNDS} rounds × ${AT_ONCE} concurrent → ${JSON.stringify(tally(statuses))}`);
    },
    RACE_TIMEOUT_MS,
  );

  it(
    `lets exactly one of ${AT_ONCE} concurrent different confirms win, ${ROUNDS} rounds`,
    async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { init } = await api.uploadFile(randomBytesSeeded(500, 99 + round));
        const answers = await Promise.all(
          Array.from({ length: AT_ONCE }, (_, i) =>
            api.post('/tasks/upload/confirm', {
              task_id: init.task_id,
              master_object_key: init.object_key,
              job_name: `variant ${i}`,
            }),
          ),
        );
        const winners = answers.flatMap((a, i) => (a.status === 200 ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const answer of answers.filter((a) => a.status !== 200)) {
          expect(answer.status).toBe(409);
          expect(answer.body.code).toBe('ALREADY_CONFIRMED');
        }
        expect((await api.get(`/tasks/${init.task_id}`)).body.job_name).toBe(`variant ${winners[0]}`);
      }
    },
    RACE_TIMEOUT_MS,
  );

  it(
    `attaches one include per task: of ${AT_ONCE} concurrent include inits one wins, ${ROUNDS} rounds`,
    async () => {
      const outcomes: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const { init: master } = await api.uploadFile(randomBytesSeeded(300, round + 5), { filename: 'car.speos' });
        const taskId = master.task_id as string;
        const includes = Array.from({ length: AT_ONCE }, (_, i) =>
          randomBytesSeeded(200 + i, 10_000 + round * 100 + i),
        );
        const answers = await Promise.all(
          includes.map((data) =>
            api.init({ filename: 'inc.zip', file_size: data.length, file_type: 'include', task_id: taskId }),
          ),
        );
        outcomes.push(...answers.map((a) => a.status));
        const winners = answers.flatMap((a, i) => (a.status === 200 ? [i] : []));
        expect(winners, JSON.stringify(answers.map((a) => a.body))).toHaveLength(1);
        for (const answer of answers.filter((a) => a.status !== 200)) {
          expect(answer.status).toBe(409);
          expect(answer.body.code).toBe('INVALID_STATE');
          expect(answer.body.detail).toContain('abort it first');
        }
        // No refused init left a row or an orphan upload behind.
        const rows = await db
          .selectFrom('uploads')
          .select(['upload_id', 'file_type'])
          .where('task_id', '=', taskId)
          .execute();
        expect(rows.map((r) => r.file_type).sort()).toEqual(['include', 'master']);
        const won = answers[winners[0]!]!.body;
        expect((await api.get(`/tasks/${taskId}`)).body.include.upload_id).toBe(won.upload_id);
        // The task serves the winner's bytes, under the winner's ETag.
        const data = includes[winners[0]!]!;
        const put = await api.putPart(won.parts[0].upload_url, data);
        const done = await api.post('/tasks/upload/multipart/complete', {
          task_id: taskId,
          upload_id: won.upload_id,
          object_key: won.object_key,
          parts: [{ part_number: 1, etag: put.etag }],
        });
        expect(done.status).toBe(200);
        const served = await fetch(`${portal.url}/tasks/${taskId}/files/include`);
        expect(md5(Buffer.from(await served.arrayBuffer()))).toBe(md5(data));
        expect(served.headers.get('etag')).toBe(`"${done.body.etag}"`);
      }
      const keys = await db.selectFrom('uploads').select('object_key').execute();
      expect(new Set(keys.map((k) => k.object_key)).size).toBe(keys.length);
      console.log(
        `[races] include init: ${ROUNDS} rounds × ${AT_ONCE} concurrent → ${JSON.stringify(tally(outcomes))}`,
      );
    },
    RACE_TIMEOUT_MS,
  );

  it(
    'gives a re-started include of a task its own object key',
    async () => {
      const { init: master } = await api.uploadFile(randomBytesSeeded(300, 3), { filename: 'car.speos' });
      const body = { filename: 'inc.zip', file_size: 100, file_type: 'include', task_id: master.task_id };
      const first = (await api.init(body)).body;
      const second = await api.init(body);
      expect(second.status).toBe(409);
      expect(second.body.upload_id).toBe(first.upload_id);
      await api.post('/tasks/upload/multipart/abort', first);
      const third = (await api.init(body)).body;
      expect(third.object_key).not.toBe(first.object_key);
      expect(third.object_key).toMatch(new RegExp(`^speos_tasks/${master.task_id}/include/[0-9a-f]{16}/inc\\.zip$`));
      // The aborted upload stays gone; the new one is the task's include.
      expect((await api.post('/tasks/upload/multipart/list', first)).status).toBe(404);
      expect((await api.get(`/tasks/${master.task_id}`)).body.include.upload_id).toBe(third.upload_id);
    },
    RACE_TIMEOUT_MS,
  );
});

const s3 = s3TestOptions('complete race on S3');
describe.skipIf(!s3)('complete race on S3 (Swift)', () => {
  it(
    'answers concurrent identical completes alike, 10 rounds',
    async () => {
      const portal = await startTestPortal(s3PortalEnv(s3!));
      try {
        const api = new TestApi(portal.url);
        for (let round = 0; round < 10; round++) {
          const data = randomBytesSeeded(6 * 1024 * 1024, 500 + round); // 2 parts
          const { ref, parts } = await api.uploadParts(data);
          const answers = await Promise.all(
            Array.from({ length: 8 }, () => api.post('/tasks/upload/multipart/complete', { ...ref, parts })),
          );
          for (const answer of answers) {
            expect(answer.status, JSON.stringify(answer.body)).toBe(200);
            expect(answer.body).toEqual(answers[0]!.body);
          }
        }
      } finally {
        await portal.close();
      }
    },
    RACE_TIMEOUT_MS,
  );
});
