/**
 * Whether ZIP_FILENAME_ENCODING names an encoding the zip reader can decode names from.
 * Apart from zip.ts so that checking the setting at start does not load the zip reader.
 */
import iconv from 'iconv-lite';

export function checkZipEncoding(name: string): boolean {
  return name === 'auto' || iconv.encodingExists(name);
}
