import { describe, expect, it } from 'vitest';
import { acceptedExtensions, acceptedInputType, archiveFormat, describeAcceptedTypes } from './input-types.js';

describe('accepted input types', () => {
  it('knows every archive the worker extracts, longest suffix first, in any case', () => {
    const cases: [string, string | undefined][] = [
      ['模型.zip', 'zip'],
      ['a.7z', '7z'],
      ['A.RAR', 'rar'],
      ['a.tar', 'tar'],
      ['a.tar.gz', 'tar.gz'],
      ['a.TGZ', 'tar.gz'],
      ['a.tar.bz2', 'tar.bz2'],
      ['a.tbz2', 'tar.bz2'],
      ['a.tar.xz', 'tar.xz'],
      ['a.txz', 'tar.xz'],
      ['glass.txt.gz', 'gz'],
      ['a.bz2', 'bz2'],
      ['a.xz', 'xz'],
      ['a.speos', undefined],
      ['a.zipx', undefined],
      ['.zip', undefined],
      ['a.lzh', undefined],
    ];
    for (const [name, format] of cases) expect(archiveFormat(name), name).toBe(format);
  });

  it('takes a model or an archive as the master, only an archive as the include', () => {
    expect(acceptedInputType('车灯.speos', 'master')).toEqual({ ok: true, kind: 'model', extension: '.speos' });
    expect(acceptedInputType('lamp.SV5')).toMatchObject({ ok: true, kind: 'model' });
    expect(acceptedInputType('lamp.scdocx')).toMatchObject({ ok: true, kind: 'model' });
    expect(acceptedInputType('lamp.speos.zip')).toEqual({
      ok: true,
      kind: 'archive',
      extension: '.zip',
      format: 'zip',
    });
    expect(acceptedInputType('inputs.tar.xz', 'include')).toMatchObject({ ok: true, format: 'tar.xz' });
    const model = acceptedInputType('lamp.speos', 'include');
    expect(model.ok).toBe(false);
    if (!model.ok)
      expect(model.detail).toBe(
        `The include file "lamp.speos" is not a type the worker can open; it must be ${describeAcceptedTypes('include')}.`,
      );
    const bin = acceptedInputType('model.bin', 'master');
    expect(bin.ok).toBe(false);
    if (!bin.ok) {
      expect(bin.detail).toContain('"model.bin"');
      for (const ext of acceptedExtensions('master')) expect(bin.detail).toContain(ext);
    }
    expect(acceptedInputType('', 'master').ok).toBe(false);
  });

  it('lists the suffixes for file pickers', () => {
    expect(acceptedExtensions('include')).not.toContain('.speos');
    expect(acceptedExtensions('master')).toEqual(expect.arrayContaining(['.speos', '.sv5', '.scdocx', '.zip', '.rar']));
  });
});
