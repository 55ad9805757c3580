/**
 * Plain-text tables that line up in a terminal: widths are display columns (a Chinese
 * character takes two, an emoji two, a combining mark none), not string length.
 */
import stringWidth from 'string-width';

export function formatTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => stringWidth(r[i] ?? ''))));
  return rows.map((row) =>
    row
      .map((cell, i) => cell + ' '.repeat(Math.max(0, widths[i]! - stringWidth(cell))))
      .join('  ')
      .trimEnd(),
  );
}
