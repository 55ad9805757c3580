/**
 * The one list of files a task accepts. The web form (its file pickers and checks), the
 * CLI, the server's `init` and the worker all read it from here, so what a person may pick
 * is exactly what the worker can open. Pure functions of the file name: no I/O.
 *
 * - master: a SPEOS model file itself, or an archive holding exactly one .speos/.sv5 model;
 * - include: an archive of the files the model references, extracted beside it.
 */

/** Model files the solver is given as they are. */
export const MODEL_EXTENSIONS = ['.speos', '.sv5', '.scdocx'] as const;

/** Models the worker looks for inside an archive given as the master. */
export const ARCHIVED_MODEL_EXTENSIONS = ['.speos', '.sv5'] as const;

export type ArchiveFormat =
  | 'zip'
  | '7z'
  | 'rar'
  | 'tar'
  | 'tar.gz'
  | 'tar.bz2'
  | 'tar.xz'
  /** One compressed file (not a tar inside): decompressed to its name without the suffix. */
  | 'gz'
  | 'bz2'
  | 'xz';

/**
 * Archive suffixes, in the order people read them. A `.gz`/`.bz2`/`.xz` whose content
 * turns out to be a tar is extracted as one (the worker looks at the bytes).
 */
export const ARCHIVE_EXTENSIONS: readonly { extension: string; format: ArchiveFormat }[] = [
  { extension: '.zip', format: 'zip' },
  { extension: '.7z', format: '7z' },
  { extension: '.rar', format: 'rar' },
  { extension: '.tar', format: 'tar' },
  { extension: '.tar.gz', format: 'tar.gz' },
  { extension: '.tgz', format: 'tar.gz' },
  { extension: '.tar.bz2', format: 'tar.bz2' },
  { extension: '.tbz2', format: 'tar.bz2' },
  { extension: '.tbz', format: 'tar.bz2' },
  { extension: '.tar.xz', format: 'tar.xz' },
  { extension: '.txz', format: 'tar.xz' },
  { extension: '.gz', format: 'gz' },
  { extension: '.bz2', format: 'bz2' },
  { extension: '.xz', format: 'xz' },
];

/** Longest first, so `.tar.gz` wins over `.gz`. */
const BY_LENGTH = [...ARCHIVE_EXTENSIONS].sort((a, b) => b.extension.length - a.extension.length);

export type InputFileType = 'master' | 'include';

export type InputTypeCheck =
  | { ok: true; kind: 'model'; extension: string }
  | { ok: true; kind: 'archive'; extension: string; format: ArchiveFormat }
  | { ok: false; detail: string };

function archiveSuffix(filename: string) {
  const lower = filename.trim().toLowerCase();
  return BY_LENGTH.find((a) => lower.endsWith(a.extension) && lower.length > a.extension.length);
}

/** The archive format a file name announces, or undefined. */
export function archiveFormat(filename: string): ArchiveFormat | undefined {
  return archiveSuffix(filename)?.format;
}

/** The suffixes a file of this type may end with, e.g. for an `<input accept>` attribute. */
export function acceptedExtensions(fileType: InputFileType): string[] {
  const archives = ARCHIVE_EXTENSIONS.map((a) => a.extension);
  return fileType === 'master' ? [...MODEL_EXTENSIONS, ...archives] : archives;
}

/** `.speos, .sv5, .scdocx or an archive (.zip, .7z, …)` — for messages. */
export function describeAcceptedTypes(fileType: InputFileType): string {
  const archives = ARCHIVE_EXTENSIONS.map((a) => a.extension).join(', ');
  return fileType === 'master'
    ? `a SPEOS model (${MODEL_EXTENSIONS.join(', ')}) or an archive holding one (${archives})`
    : `an archive (${archives})`;
}

/**
 * Whether a file named `filename` is accepted as this task's master or include, and as what.
 * Every entry point calls this before any byte is sent.
 */
export function acceptedInputType(filename: string, fileType: InputFileType = 'master'): InputTypeCheck {
  const name = filename.trim();
  const lower = name.toLowerCase();
  const archive = archiveSuffix(name);
  if (archive) return { ok: true, kind: 'archive', extension: archive.extension, format: archive.format };
  if (fileType === 'master') {
    const model = MODEL_EXTENSIONS.find((e) => lower.endsWith(e) && lower.length > e.length);
    if (model) return { ok: true, kind: 'model', extension: model };
  }
  const what = fileType === 'master' ? 'The master file' : 'The include file';
  return {
    ok: false,
    detail: `${what} "${name}" is not a type the worker can open; it must be ${describeAcceptedTypes(fileType)}.`,
  };
}
