/**
 * The log text kept in the page, as a few chunks rather than one string: a poll appends to
 * the last small chunk (or starts a new one), so React re-renders a few KB, not the whole
 * megabyte, every second. The oldest text is dropped to stay within `max` characters.
 */

/** Characters kept in the page (about 1 MB of mostly ASCII solver output). */
export const MAX_LOG_CHARS = 1_000_000;
/** A chunk grows until this size, then a new one starts. */
const CHUNK_CHARS = 16 * 1024;

export interface LogChunk {
  id: number;
  text: string;
}

export interface LogBuffer {
  chunks: readonly LogChunk[];
  length: number;
  /** Some earlier text was dropped (or never read). */
  dropped: boolean;
  nextId: number;
}

export const EMPTY_BUFFER: LogBuffer = { chunks: [], length: 0, dropped: false, nextId: 0 };

export function appendLog(buffer: LogBuffer, text: string, max = MAX_LOG_CHARS): LogBuffer {
  if (text === '') return buffer;
  let { nextId, dropped } = buffer;
  const chunks = [...buffer.chunks];
  const last = chunks.at(-1);
  if (last && last.text.length < CHUNK_CHARS) chunks[chunks.length - 1] = { id: last.id, text: last.text + text };
  else chunks.push({ id: nextId++, text });
  let length = buffer.length + text.length;
  // Drop whole chunks from the front, then cut into the first one at a line start.
  while (length > max && chunks.length > 1 && length - chunks[0]!.text.length >= max) {
    length -= chunks.shift()!.text.length;
    dropped = true;
  }
  if (length > max) {
    const first = chunks[0]!;
    const from = length - max;
    const newline = first.text.indexOf('\n', from);
    const cut = newline >= 0 && newline - from < 4096 ? newline + 1 : from;
    chunks[0] = { id: first.id, text: first.text.slice(cut) };
    length -= cut;
    dropped = true;
  }
  return { chunks, length, dropped, nextId };
}
