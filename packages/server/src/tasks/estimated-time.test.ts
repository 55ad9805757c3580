import { describe, expect, it } from 'vitest';
import { humanDuration, parseSolverDuration } from './estimated-time.js';

describe('time left', () => {
  it('reads what the solver prints', () => {
    expect(parseSolverDuration('00:00:05')).toBe(5);
    expect(parseSolverDuration('00:20:00')).toBe(1200);
    expect(parseSolverDuration('1:02:03:04')).toBe(93_784);
    expect(parseSolverDuration('02:30')).toBe(150);
    expect(parseSolverDuration('42')).toBe(42);
    expect(parseSolverDuration('2h 5m')).toBe(7500);
    expect(parseSolverDuration('1 d 3 h')).toBe(97_200);
    expect(parseSolverDuration('90 sec')).toBe(90);
  });

  it('gives up on text that is not a duration', () => {
    for (const text of [null, undefined, '', 'soon', '5 apples', '00:00:05 and more', '12:345']) {
      expect(parseSolverDuration(text), String(text)).toBeNull();
    }
  });

  it('words it for a person with the two largest units', () => {
    expect(humanDuration(0)).toBe('0 seconds');
    expect(humanDuration(1)).toBe('1 second');
    expect(humanDuration(5)).toBe('5 seconds');
    expect(humanDuration(60)).toBe('1 minute');
    expect(humanDuration(1200)).toBe('20 minutes');
    expect(humanDuration(1259)).toBe('20 minutes');
    expect(humanDuration(3600)).toBe('1 hour');
    expect(humanDuration(3 * 3600 + 120)).toBe('3 hours 2 minutes');
    expect(humanDuration(86_400)).toBe('1 day');
    expect(humanDuration(5 * 86_400 + 14 * 3600 + 59 * 60)).toBe('5 days 14 hours');
  });
});
