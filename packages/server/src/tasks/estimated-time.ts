/**
 * Time left as the solver prints it ("00:00:05", "1:02:03:04", "2h 5m", "90 s") → seconds,
 * and seconds → what a person reads ("20 minutes", "5 days 14 hours"), as the original
 * portal's frontend shows `progress_info.estimated_time`.
 */

const UNITS: Record<string, number> = { d: 86_400, h: 3600, m: 60, s: 1 };

/** Seconds in a printed duration, or null when the text is not one. */
export function parseSolverDuration(text: string | null | undefined): number | null {
  const value = text?.trim();
  if (!value) return null;
  // [[[D:]H:]M:]S with optional fractional seconds
  if (/^\d+(:\d{1,2}){0,3}(\.\d+)?$/.test(value)) {
    const fields = value.split(':').map(Number);
    const weights = [86_400, 3600, 60, 1].slice(-fields.length);
    return Math.round(fields.reduce((sum, field, i) => sum + field * weights[i]!, 0));
  }
  // "2h 5m", "1 d 3 h", "90 s", "45sec"
  const pieces = [...value.matchAll(/(\d+(?:\.\d+)?)\s*([dhms])[a-z]*/gi)];
  const rest = value.replace(/(\d+(?:\.\d+)?)\s*([dhms])[a-z]*/gi, '').trim();
  if (pieces.length === 0 || rest !== '') return null;
  return Math.round(pieces.reduce((sum, [, n, unit]) => sum + Number(n) * UNITS[unit!.toLowerCase()]!, 0));
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

/**
 * The two largest units, rounded down below the second; under a minute in seconds.
 * @example humanDuration(1200) // '20 minutes'
 * @example humanDuration(482_400) // '5 days 14 hours'
 */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days > 0) return hours > 0 ? `${plural(days, 'day')} ${plural(hours, 'hour')}` : plural(days, 'day');
  if (hours > 0) return minutes > 0 ? `${plural(hours, 'hour')} ${plural(minutes, 'minute')}` : plural(hours, 'hour');
  if (minutes > 0) return plural(minutes, 'minute');
  return plural(s, 'second');
}
