import { ApiError } from '@speos-portal/protocol';

/**
 * The last path component of a client-supplied file name, UTF-8 kept (Chinese names are
 * normal). Control characters and names that are only dots are refused: they are never
 * what a person meant, and some would be dangerous in a shell or a path.
 * @example cleanFilename('C:\\models\\车灯 v2.zip') // '车灯 v2.zip'
 */
export function cleanFilename(raw: string): string {
  const name = raw.normalize('NFC').split(/[/\\]/).pop()!.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(raw)) {
    throw new ApiError(
      'VALIDATION_FAILED',
      'filename must not contain control characters (such as newlines or tabs).',
      {
        errors: [{ field: 'filename', message: 'contains control characters' }],
      },
    );
  }
  if (name === '' || /^\.+$/.test(name)) {
    throw new ApiError('VALIDATION_FAILED', `filename "${raw}" has no usable file name after removing its folders.`, {
      errors: [{ field: 'filename', message: 'no file name' }],
    });
  }
  if (Buffer.byteLength(name) > 255) {
    throw new ApiError('VALIDATION_FAILED', 'filename must be at most 255 bytes in UTF-8.', {
      errors: [{ field: 'filename', message: 'too long' }],
    });
  }
  return name;
}
