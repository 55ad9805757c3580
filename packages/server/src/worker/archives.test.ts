/**
 * Every accepted archive type through the API: made by the real tool at test time (RAR:
 * committed fixtures), uploaded as the include of a task, and read by the solver. The
 * solver is a TEST DOUBLE (test-support/fake-speos.mjs) — SPEOS cannot be installed here —
 * which exits 4 unless every file its model "require"s is beside it. Hostile archives end
 * the task as FAILURE with a message a person can act on.
 */
import { copyFile, mkdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TestApi } from '@speos-portal/test-support/api.js';
import { missingTools, RAR_FIXTURES, run, type Tool, writeTree } from '@speos-portal/test-support/archive-tools.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { strToU8, zipSync } from 'fflate';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const COMMAND = `${process.execPath} ${FAKE} {master}`;

let portal: TestPortal;
let api: TestApi;
let work: string;
let source: string;

const plan = (require: string[]) => Buffer.from(JSON.stringify({ passes: 1, require, outputs: { 'ok.txt': 'ok' } }));

beforeAll(async () => {
  portal = await startTestPortal({ SPEOS_COMMAND: COMMAND, WORKER_SLOTS: '3', EXTRACT_MAX_ENTRIES: '1000' });
  api = new TestApi(portal.url);
  work = await tempDir('speos-archives-api-');
  source = path.join(work, 'source');
  await writeTree(source, { 'model/光源/玻璃.txt': 'n=1.5', 'model/materials/steel.txt': 'ρ=7.85' });
});
afterAll(async () => {
  await portal.close();
  await rm(work, { recursive: true, force: true });
});

async function submit(master: Buffer, masterName: string, include?: { data: Buffer; name: string }) {
  const { init } = await api.uploadFile(master, { filename: masterName });
  const includeKey = include
    ? (await api.uploadFile(include.data, { filename: include.name, file_type: 'include' })).init.object_key
    : undefined;
  const res = await api.post('/tasks/upload/confirm', {
    task_id: init.task_id,
    master_object_key: init.object_key,
    include_object_key: includeKey,
    job_name: masterName,
  });
  expect(res.status).toBe(200);
  return init.task_id as string;
}

async function finished(id: string): Promise<{ status: string; message: string | null; error_detail: string | null }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const task = (await api.get(`/tasks/${id}/detail`)).body;
    if (['SUCCESS', 'FAILURE', 'CANCELLED'].includes(task.status)) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} still ${task.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The include made by `tools` as `name`, and a model that requires two of its files. */
async function runsWith(name: string, make: (archive: string) => Promise<unknown>) {
  const archive = path.join(work, name);
  await make(archive);
  const id = await submit(plan(['model/光源/玻璃.txt', 'model/materials/steel.txt']), 'lamp.speos', {
    data: await readFile(archive),
    name,
  });
  const task = await finished(id);
  expect(task, name).toMatchObject({ status: 'SUCCESS' });
}

describe('each accepted include type, made by its tool, runs', () => {
  const cases: [string, Tool[], string[]][] = [
    ['inputs.zip', ['zip'], ['zip', '-r', '-q']],
    ['inputs.7z', ['7zz'], ['7zz', 'a', '-bd']],
    ['inputs.tar', ['tar'], ['tar', '-cf']],
    ['inputs.tar.gz', ['tar', 'gzip'], ['tar', '-czf']],
    ['inputs.tgz', ['tar', 'gzip'], ['tar', '-czf']],
    ['inputs.tar.bz2', ['tar', 'bzip2'], ['tar', '-cjf']],
    ['inputs.tar.xz', ['tar', 'xz'], ['tar', '-cJf']],
  ];
  for (const [name, tools, [tool, ...args]] of cases) {
    const missing = missingTools(...tools);
    it.skipIf(missing)(`${name} ${missing}`, () => runsWith(name, (a) => run(source, tool!, [...args, a, '.'])));
  }

  for (const [tool, suffix] of [
    ['gzip', '.gz'],
    ['bzip2', '.bz2'],
    ['xz', '.xz'],
  ] as const) {
    const missing = missingTools(tool);
    it.skipIf(missing)(`a single file: 玻璃.txt${suffix} ${missing}`, async () => {
      const dir = path.join(work, `single-${tool}`);
      await writeTree(dir, { '玻璃.txt': 'n=1.5' });
      await run(dir, tool, ['-k', '玻璃.txt']);
      const id = await submit(plan(['玻璃.txt']), 'lamp.speos', {
        data: await readFile(path.join(dir, `玻璃.txt${suffix}`)),
        name: `玻璃.txt${suffix}`,
      });
      expect(await finished(id)).toMatchObject({ status: 'SUCCESS' });
    });
  }

  it('RAR4 and RAR5 (committed fixtures made by RarLab rar)', async () => {
    const rar4 = await submit(plan(['testdir/test.txt', 'LibarchiveAddingTest.html']), 'lamp.speos', {
      data: await readFile(path.join(RAR_FIXTURES, 'rar4-compressed.rar')),
      name: 'textures.rar',
    });
    const rar5 = await submit(plan(['test1.bin', 'test4.bin']), 'lamp.speos', {
      data: await readFile(path.join(RAR_FIXTURES, 'rar5-solid.rar')),
      name: 'textures.rar',
    });
    expect(await finished(rar4)).toMatchObject({ status: 'SUCCESS' });
    expect(await finished(rar5)).toMatchObject({ status: 'SUCCESS' });
  });

  it.skipIf(missingTools('7zz'))('a master packed as .7z: its one model is found and run', async () => {
    const dir = path.join(work, 'master-7z');
    await writeTree(dir, { 'lamp/lamp.speos': plan(['textures/a.txt']), 'lamp/textures/a.txt': 'a' });
    const archive = path.join(work, 'lamp.7z');
    await run(dir, '7zz', ['a', '-bd', archive, 'lamp']);
    const id = await submit(await readFile(archive), 'lamp.7z');
    expect(await finished(id)).toMatchObject({ status: 'SUCCESS' });
  });

  it.skipIf(missingTools('zip'))('a GBK-named zip from Chinese Windows: the solver finds 光源/玻璃.txt', async () => {
    const dir = path.join(work, 'gbk');
    const gbk = (s: string) => Buffer.concat([Buffer.from(`${dir}/`), iconv.encode(s, 'gbk')]) as unknown as string;
    await mkdir(dir, { recursive: true });
    await mkdir(gbk('光源'));
    await writeFile(gbk('光源/玻璃.txt'), 'n=1.5');
    const archive = path.join(work, 'gbk.zip');
    await run(dir, 'zip', ['-r', '-q', archive, '.'], { LC_ALL: 'C' });
    const id = await submit(plan(['光源/玻璃.txt']), 'lamp.speos', { data: await readFile(archive), name: '材质.zip' });
    expect(await finished(id)).toMatchObject({ status: 'SUCCESS' });
  });
});

describe('hostile archives end the task as FAILURE with a clear message', () => {
  const failsWith = async (data: Buffer, name: string, message: string | RegExp) => {
    const id = await submit(plan([]), 'lamp.speos', { data, name });
    const task = await finished(id);
    expect(task.status, name).toBe('FAILURE');
    if (typeof message === 'string') expect(task.message).toBe(message);
    else expect(task.message).toMatch(message);
    return task;
  };

  it('zip-slip, absolute and drive-letter entries; nothing lands outside', async () => {
    const entry = (name: string) => Buffer.from(zipSync({ 'ok.txt': strToU8('ok'), [name]: strToU8('x') }));
    await failsWith(entry('../../../escape.txt'), 'slip.zip', 'slip.zip contains an unsafe path "../../../escape.txt"');
    await failsWith(entry('/tmp/escape.txt'), 'abs.zip', 'abs.zip contains an unsafe path "/tmp/escape.txt"');
    await failsWith(entry('D:\\escape.txt'), 'drive.zip', 'drive.zip contains an unsafe path "D:\\escape.txt"');
    for (const where of [
      path.join(portal.dataDir, 'escape.txt'),
      '/tmp/escape.txt',
      path.join(portal.dataDir, 'work', 'escape.txt'),
    ]) {
      await expect(readFile(where)).rejects.toThrow();
    }
  });

  it.skipIf(missingTools('tar'))('a symlink out of the folder (tar)', async () => {
    const dir = path.join(work, 'link-out');
    await mkdir(dir, { recursive: true });
    await symlink('/etc', path.join(dir, 'etc'));
    const archive = path.join(work, 'link-out.tar');
    await run(dir, 'tar', ['-cf', archive, 'etc']);
    await failsWith(
      await readFile(archive),
      'link-out.tar',
      'link-out.tar contains a link "etc" that points outside it (to "/etc")',
    );
  });

  it.skipIf(missingTools('zip'))('a zip bomb: refused before writing, the message names the limit', async () => {
    const dir = path.join(work, 'bomb');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'zeros.bin'), '');
    await truncate(path.join(dir, 'zeros.bin'), 100 * 1024 * 1024);
    const archive = path.join(work, 'bomb.zip');
    await run(dir, 'zip', ['-q', archive, 'zeros.bin']);
    await rm(dir, { recursive: true });
    const task = await failsWith(
      await readFile(archive),
      'bomb.zip',
      /^bomb\.zip expands to more than 64\.0 MiB, the extraction limit \(.*EXTRACT_MAX_RATIO=20\); it may be a zip bomb$/,
    );
    expect(task.error_detail).toContain('EXTRACT_MAX_RATIO');
  });

  it('more entries than EXTRACT_MAX_ENTRIES (1000 here)', async () => {
    const many = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`t/${i}.txt`, strToU8('x')]));
    await failsWith(
      Buffer.from(zipSync(many)),
      'many.zip',
      'many.zip has more than 1000 entries, the limit EXTRACT_MAX_ENTRIES',
    );
  });

  it.skipIf(missingTools('tar', 'xz'))('a truncated archive', async () => {
    const archive = path.join(work, 'cut.tar.xz');
    await writeTree(path.join(work, 'big'), {
      'noise.bin': Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251)),
    });
    await run(path.join(work, 'big'), 'tar', ['-cJf', archive, '.']);
    const whole = await readFile(archive);
    await failsWith(whole.subarray(0, Math.floor(whole.length / 2)), 'cut.tar.xz', /^cut\.tar\.xz is damaged/);
    const rar = await readFile(path.join(RAR_FIXTURES, 'rar5-solid.rar'));
    await failsWith(rar.subarray(0, 400), 'cut.rar', /^cut\.rar is damaged or incomplete: /);
  });

  it('a file that is no archive at all, named like one', async () => {
    const copy = path.join(work, 'fake.7z');
    await copyFile(FAKE, copy);
    await failsWith(await readFile(copy), 'fake.7z', 'fake.7z is not an archive the worker can open');
  });
});
