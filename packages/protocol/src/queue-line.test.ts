import { describe, expect, it } from 'vitest';
import { ordinal, queueLine } from './queue-line.js';

describe('queueLine', () => {
  it('says the place in English ordinals, with the reason when there is one', () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111].map(ordinal)).toEqual([
      '1st',
      '2nd',
      '3rd',
      '4th',
      '11th',
      '12th',
      '13th',
      '21st',
      '22nd',
      '23rd',
      '101st',
      '111th',
    ]);
    expect(queueLine(3, 'waiting for a licence')).toBe('3rd in line — waiting for a licence');
    expect(queueLine(1, null)).toBe('next in line');
    expect(queueLine(2, undefined)).toBe('2nd in line');
  });
});
