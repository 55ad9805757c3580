/**
 * The log sink against a real SQLite database that really goes away: the Kysely instance is
 * destroyed (every write then fails) and a new one opened on the same file later, as a worker
 * sees a database that is down and comes back. Nothing is mocked.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../db/connect.js';
import { appendLog, readLog } from '../tasks/logs.js';
import { insertTask, newTaskRow } from '../tasks/repository.js';
import { FLUSH_BYTES, LogSink, MEMORY_LIMIT } from './log-sink.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('speos-log-sink-');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function whole(db: Db, id: string): Promise<string> {
  let text = '';
  for (let offset = 0; ; ) {
    const page = await readLog(db, id, offset);
    text += page.text;
    if (page.next >= page.size) return text;
    offset = page.next;
  }
}

describe('LogSink', () => {
  it('keeps every line while the database is away (in memory, then on disk) and writes them in order once it is back', async () => {
    const id = '00000000-0000-4000-8000-0000000000a1';
    let db = await openDatabase(undefined, dir);
    await insertTask(db, newTaskRow({ task_id: id, owner: null, created_at: 1, status: 'RUNNING', version: 'v252' }));
    const spill = path.join(dir, 'unwritten.txt');
    const sink = new LogSink((text, start) => appendLog(db, id, text, start), 0, spill);
    let expected = '';
    let bytes = 0;
    const say = (text: string) => {
      expected += text;
      bytes += Buffer.byteLength(text);
      sink.append(text);
    };
    say('before the outage\n');
    expect(await sink.flush()).toBe(true);

    await db.destroy(); // the database is gone: every write fails from here on
    // Multi-byte characters, so chunks read back from the spill file must not cut one.
    const line = (n: number) => `LINE ${n} 光线追踪 ${'·'.repeat(40)}\n`;
    let n = 0;
    while (bytes < MEMORY_LIMIT / 2) say(line(n++));
    expect(await sink.flush()).toBe(false);
    expect(sink.failing).toBe(true);
    expect(existsSync(spill)).toBe(false); // still in memory
    while (bytes < 3 * MEMORY_LIMIT) say(line(n++));
    expect(existsSync(spill)).toBe(true); // past the memory limit it went to disk
    expect(sink.spilledBytes).toBeGreaterThan(MEMORY_LIMIT);
    expect(await sink.flush()).toBe(false);
    say('still down\n');

    db = await openDatabase(undefined, dir); // it is back
    expect(await sink.flush()).toBe(true);
    expect(sink.pendingBytes).toBe(0);
    expect(existsSync(spill)).toBe(false);
    expect(await whole(db, id)).toBe(expected);
    await db.destroy();
  });

  it('writes a chunk once even when the answer to its write was lost', async () => {
    const id = '00000000-0000-4000-8000-0000000000a2';
    const db = await openDatabase(undefined, dir);
    await insertTask(db, newTaskRow({ task_id: id, owner: null, created_at: 1, status: 'RUNNING', version: 'v252' }));
    expect(await appendLog(db, id, 'first\n', 0)).toBe(6);
    // The same write again (its commit went through, the connection dropped before the answer).
    expect(await appendLog(db, id, 'first\n', 0)).toBe(6);
    expect(await appendLog(db, id, 'second\n', 6)).toBe(13);
    expect(await whole(db, id)).toBe('first\nsecond\n');
    await db.destroy();
  });

  it('asks for a write by itself once FLUSH_BYTES are waiting, not before', async () => {
    const id = '00000000-0000-4000-8000-0000000000a3';
    const db = await openDatabase(undefined, dir);
    await insertTask(db, newTaskRow({ task_id: id, owner: null, created_at: 1, status: 'RUNNING', version: 'v252' }));
    const sink = new LogSink((text, start) => appendLog(db, id, text, start), 0, path.join(dir, 'a3.txt'));
    sink.append('x'.repeat(FLUSH_BYTES - 1));
    expect(sink.pendingBytes).toBe(FLUSH_BYTES - 1);
    sink.append('y');
    await sink.flush(); // waits for the write the append started
    expect((await readLog(db, id, 0)).size).toBe(FLUSH_BYTES);
    await db.destroy();
  });
});
