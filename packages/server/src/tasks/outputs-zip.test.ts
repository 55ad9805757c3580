/**
 * outputs.zip checked by the real unzippers people use (Info-ZIP unzip, 7-Zip) and by
 * yauzl: small archives with Chinese names, more than 65,535 files, and more than 4 GiB
 * (the big file's bytes are generated zeros, written to a sparse file: no 4 GiB on disk);
 * then through the API: Content-Length, Range, If-Range, and CRCs filled in for old rows.
 */
import { execFile } from 'node:child_process';
import { open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { TestApi } from '@speos-portal/test-support/api.js';
import { missingTools } from '@speos-portal/test-support/archive-tools.js';
import { FAKE_SPEOS } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { openDatabase } from '../db/connect.js';
import { OutputsZip, type ZipSource } from './outputs-zip.js';

const exec = promisify(execFile);
const GiB = 1024 ** 3;

let work: string;
beforeAll(async () => {
  work = await tempDir('speos-outputs-zip-');
});
afterAll(() => rm(work, { recursive: true, force: true }));

const ZERO = Buffer.alloc(1024 * 1024);

/** Writes the stream to `file`, skipping all-zero chunks (a sparse file), and returns its length. */
async function writeSparse(stream: Readable, file: string): Promise<number> {
  const handle = await open(file, 'w');
  let at = 0;
  try {
    for await (const chunk of stream) {
      const bytes = chunk as Buffer;
      const zeros = bytes.length <= ZERO.length && bytes.equals(ZERO.subarray(0, bytes.length));
      if (!zeros) await handle.write(bytes, 0, bytes.length, at);
      at += bytes.length;
    }
    await handle.truncate(at);
  } finally {
    await handle.close();
  }
  return at;
}

/** Contents by key: a buffer, or a number of zero bytes. */
function reader(contents: Record<string, Buffer | number>) {
  return async (key: string, range: { start: number; end: number }) => {
    const content = contents[key]!;
    if (typeof content !== 'number') return Readable.from([content.subarray(range.start, range.end + 1)]);
    async function* zeros() {
      for (let left = range.end - range.start + 1; left > 0; left -= ZERO.length)
        yield ZERO.subarray(0, Math.min(left, ZERO.length));
    }
    return Readable.from(zeros(), { objectMode: false });
  };
}

function zerosCrc(size: number): number {
  let crc = 0;
  for (let left = size; left > 0; left -= ZERO.length) crc = crc32(ZERO.subarray(0, Math.min(left, ZERO.length)), crc);
  return crc;
}

async function entriesOf(file: string): Promise<{ name: string; utf8: boolean; size: number }[]> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true });
  const entries: { name: string; utf8: boolean; size: number }[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => {
      entries.push({ name: e.fileName, utf8: (e.generalPurposeBitFlag & 0x800) !== 0, size: e.uncompressedSize });
      zip.readEntry();
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  return entries;
}

const source = (name: string, content: Buffer, key = name): ZipSource => ({
  name,
  size: content.length,
  crc32: crc32(content),
  key,
});

describe('the outputs.zip layout', () => {
  const files: Record<string, Buffer> = {
    'report.html': Buffer.from('<html>光强</html>'),
    '结果/照度.xmp': Buffer.from('XMP'.repeat(10_000)),
    'empty.txt': Buffer.alloc(0),
  };
  const sources = Object.entries(files).map(([name, content]) => source(name, content));
  const zip = new OutputsZip(sources, new Date('2026-03-01T08:30:00Z'));

  it('is a zip every unzipper reads, with UTF-8 names flagged as such', async () => {
    const file = path.join(work, 'small.zip');
    expect(await writeSparse(zip.stream(reader(files)), file)).toBe(zip.size);
    expect((await stat(file)).size).toBe(zip.size);
    const unzipped = unzipSync(await readFile(file));
    for (const [name, content] of Object.entries(files)) expect(Buffer.from(unzipped[name]!)).toEqual(content);
    expect(await entriesOf(file)).toEqual(
      Object.entries(files).map(([name, c]) => ({ name, utf8: true, size: c.length })),
    );
    // Each unzipper that is installed (.ci/run installs both) tests every CRC.
    if (!missingTools('unzip')) expect((await exec('unzip', ['-t', file])).stdout).toContain('No errors detected');
    if (!missingTools('7zz')) expect((await exec('7zz', ['t', file])).stdout).toContain('Everything is Ok');
  });

  it('gives every byte range as a slice of the whole, and the same bytes every time', async () => {
    const whole = Buffer.concat(await zip.stream(reader(files)).toArray());
    const again = new OutputsZip(sources, new Date('2026-03-01T08:30:00Z'));
    expect(again.etag).toBe(zip.etag);
    for (const [start, end] of [
      [0, 0],
      [0, 29],
      [30, 60],
      [45, 30_100],
      [zip.size - 22, zip.size - 1],
      [1000, zip.size - 1],
    ] as const) {
      const part = Buffer.concat(await zip.stream(reader(files), start, end).toArray());
      expect(part, `${start}-${end}`).toEqual(whole.subarray(start, end + 1));
    }
    expect(new OutputsZip(sources, new Date('2026-03-02T00:00:00Z')).etag).not.toBe(zip.etag);
  });

  it.skipIf(missingTools('unzip'))('holds more than 65,535 files (ZIP64 end records)', async () => {
    const content = Buffer.from('lux');
    const many = Array.from({ length: 70_000 }, (_, i) => source(`sensor/${i}.txt`, content, 'same'));
    const big = new OutputsZip(many, new Date());
    const file = path.join(work, 'many.zip');
    expect(await writeSparse(big.stream(reader({ same: content })), file)).toBe(big.size);
    const entries = await entriesOf(file);
    expect(entries).toHaveLength(70_000);
    expect(entries[69_999]).toEqual({ name: 'sensor/69999.txt', utf8: true, size: 3 });
    const { stdout } = await exec('unzip', ['-t', '-q', file], { maxBuffer: 64 * 1024 * 1024 });
    expect(stdout).toContain('No errors detected');
  });

  it.skipIf(missingTools('unzip'))(
    'holds a file over 4 GiB and files after it (ZIP64 sizes and offsets)',
    async () => {
      const hugeSize = 4 * GiB + 123_457;
      const tail = Buffer.from('after the big one');
      const big = new OutputsZip(
        [
          { name: 'huge.xmp', size: hugeSize, crc32: zerosCrc(hugeSize), key: 'huge' },
          source('tail.txt', tail, 'tail'),
        ],
        new Date(),
      );
      expect(big.size).toBeGreaterThan(4 * GiB);
      const file = path.join(work, 'huge.zip');
      expect(await writeSparse(big.stream(reader({ huge: hugeSize, tail })), file)).toBe(big.size);
      expect(await entriesOf(file)).toEqual([
        { name: 'huge.xmp', utf8: true, size: hugeSize },
        { name: 'tail.txt', utf8: true, size: tail.length },
      ]);
      // unzip finds the file after the big one through the ZIP64 offset, and checks its CRC.
      expect((await exec('unzip', ['-l', file])).stdout).toMatch(/4295090753\s+\S+ \S+\s+huge\.xmp/);
      expect((await exec('unzip', ['-t', file, 'tail.txt'])).stdout).toContain('No errors detected');
      expect((await exec('unzip', ['-p', file, 'tail.txt'])).stdout).toBe('after the big one');
      // A range that starts past 4 GiB.
      const end = Buffer.concat(await big.stream(reader({ huge: hugeSize, tail }), big.size - 200).toArray());
      const fromFile = Buffer.alloc(200);
      const handle = await open(file, 'r');
      await handle.read(fromFile, 0, 200, big.size - 200);
      await handle.close();
      expect(end).toEqual(fromFile);
      await rm(file);
    },
    120_000,
  );
});

describe('GET /tasks/{id}/outputs.zip', () => {
  let portal: TestPortal;
  let api: TestApi;
  const FAKE = FAKE_SPEOS;

  beforeAll(async () => {
    portal = await startTestPortal({ SPEOS_COMMAND: `${process.execPath} ${FAKE} {master}` });
    api = new TestApi(portal.url);
  });
  afterAll(() => portal.close());

  it('has a length, resumes with Range, and answers If-Range for another archive in full', async () => {
    const outputs = { 'report.html': '<html>光强</html>', 'sub dir/结果.xmp': 'XMP'.repeat(50_000) };
    const { init } = await api.uploadFile(Buffer.from(JSON.stringify({ passes: 1, outputs })), { filename: 'm.speos' });
    await api.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: '车灯',
    });
    const deadline = Date.now() + 30_000;
    while ((await api.get(`/tasks/${init.task_id}`)).body.status !== 'SUCCESS') {
      if (Date.now() > deadline) throw new Error('task did not finish');
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = `${portal.url}/tasks/${init.task_id}/outputs.zip`;
    const full = await fetch(url);
    expect(full.status).toBe(200);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    const etag = full.headers.get('etag')!;
    const whole = Buffer.from(await full.arrayBuffer());
    expect(Number(full.headers.get('content-length'))).toBe(whole.length);
    const files = unzipSync(whole);
    expect(Buffer.from(files['sub dir/结果.xmp']!).toString()).toBe(outputs['sub dir/结果.xmp']);

    // A download cut at 100,000 bytes continues where it stopped.
    const rest = await fetch(url, { headers: { range: 'bytes=100000-', 'if-range': etag } });
    expect(rest.status).toBe(206);
    expect(rest.headers.get('content-range')).toBe(`bytes 100000-${whole.length - 1}/${whole.length}`);
    expect(Buffer.concat([whole.subarray(0, 100_000), Buffer.from(await rest.arrayBuffer())])).toEqual(whole);
    const stale = await fetch(url, { headers: { range: 'bytes=100000-', 'if-range': '"zip-other"' } });
    expect(stale.status).toBe(200);
    expect(Buffer.from(await stale.arrayBuffer())).toEqual(whole);
    const outside = await fetch(url, { headers: { range: `bytes=${whole.length}-` } });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${whole.length}`);

    // Rows stored before CRCs were kept: the first download computes them, and the bytes are the same.
    const db = await openDatabase(undefined, portal.dataDir);
    try {
      await db.updateTable('task_outputs').set({ crc32: null }).where('task_id', '=', init.task_id).execute();
      const again = Buffer.from(await (await fetch(url)).arrayBuffer());
      expect(again).toEqual(whole);
      const rows = await db.selectFrom('task_outputs').select('crc32').where('task_id', '=', init.task_id).execute();
      expect(rows.every((r) => r.crc32 !== null)).toBe(true);
    } finally {
      await db.destroy();
    }
  });
});
