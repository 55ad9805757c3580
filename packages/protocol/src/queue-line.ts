/** "3rd in line — waiting for a licence": a PENDING task's queue_position and queue_reason in one line. */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix =
    tens >= 11 && tens <= 13 ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

export function queueLine(position: number, reason: string | null | undefined): string {
  const place = position === 1 ? 'next in line' : `${ordinal(position)} in line`;
  return reason ? `${place} — ${reason}` : place;
}
