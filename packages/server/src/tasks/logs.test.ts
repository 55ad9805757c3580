import { tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/connect.js';
import { openDatabase } from '../db/connect.js';
import { appendLog, logTail, readLog } from './logs.js';
import { insertTask, newTaskRow } from './repository.js';

let db: Db;
const id = '00000000-0000-4000-8000-000000000001';

beforeAll(async () => {
  db = await openDatabase(undefined, await tempDir());
  await insertTask(db, newTaskRow({ task_id: id, owner: null, created_at: 1, status: 'RUNNING', version: 'v252' }));
  for (const text of ['line 1\n', '光线追踪 pass 2/3\n', 'done\n']) await appendLog(db, id, text);
});
afterAll(() => db.destroy());

describe('task logs', () => {
  const whole = 'line 1\n光线追踪 pass 2/3\ndone\n';

  it('reads from any byte offset across chunks', async () => {
    const all = await readLog(db, id, 0);
    expect(all).toEqual({ text: whole, next: Buffer.byteLength(whole), size: Buffer.byteLength(whole) });
    const fromMiddle = await readLog(db, id, 7);
    expect(fromMiddle.text).toBe('光线追踪 pass 2/3\ndone\n');
    expect(await readLog(db, id, Buffer.byteLength(whole))).toMatchObject({ text: '', next: Buffer.byteLength(whole) });
  });

  it('never splits a character, and always moves forward even with a tiny limit', async () => {
    const first = await readLog(db, id, 7, 4); // 光 is 3 bytes: the 4th byte would cut 线
    expect(first).toMatchObject({ text: '光', next: 10 });
    const tiny = await readLog(db, id, 10, 1);
    expect(tiny).toMatchObject({ text: '线', next: 13 });
    let offset = 0;
    let text = '';
    for (let reads = 0; offset < Buffer.byteLength(whole); reads++) {
      expect(reads).toBeLessThan(100);
      const page = await readLog(db, id, offset, 2);
      text += page.text;
      offset = page.next;
    }
    expect(text).toBe(whole);
  });

  it('gives the tail for error_detail', async () => {
    expect(await logTail(db, id, 5)).toBe('done\n');
  });
});
