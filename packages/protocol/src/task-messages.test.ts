import { describe, expect, it } from 'vitest';
import {
  localizeTaskMessage,
  parseTaskMessage,
  renderTaskMessage,
  TASK_MESSAGES,
  type TaskMessageCode,
} from './task-messages.js';

const SAMPLE: Record<string, string> = {
  worker: 'lab-1-4242',
  exit_code: '3',
  signal: 'SIGKILL',
  attempts: '3',
  hours: '72',
  version: 'v252',
};

describe('task messages', () => {
  it('reads back the code and parameters of every message it renders, and renders them in Chinese', () => {
    for (const code of Object.keys(TASK_MESSAGES) as TaskMessageCode[]) {
      const english = renderTaskMessage(code, SAMPLE, 'en');
      const parsed = parseTaskMessage(english);
      expect(parsed?.code, english).toBe(code);
      expect(renderTaskMessage(code, parsed!.params, 'en')).toBe(english);
      const chinese = renderTaskMessage(code, parsed!.params, 'zh');
      expect(chinese).not.toMatch(/\{\w+\}/);
      // Same placeholders in both languages: nothing the English says is lost in Chinese.
      const names = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(names(TASK_MESSAGES[code].zh)).toEqual(names(TASK_MESSAGES[code].en));
    }
  });

  it('parses what the server writes', () => {
    expect(parseTaskMessage('SPEOS stopped with exit code 3')).toEqual({
      code: 'SOLVER_EXIT_CODE',
      params: { exit_code: '3' },
    });
    expect(parseTaskMessage('claimed by vm-7195')).toEqual({ code: 'CLAIMED', params: { worker: 'vm-7195' } });
    expect(parseTaskMessage('stopped')).toEqual({ code: 'STOPPED', params: {} });
    expect(parseTaskMessage('stopped by request')).toEqual({ code: 'STOPPED_BY_REQUEST', params: {} });
  });

  it('leaves messages without a code as they are', () => {
    expect(parseTaskMessage('the include archive is damaged')).toBeNull();
    expect(parseTaskMessage('submitted twice')).toBeNull();
    expect(parseTaskMessage(null)).toBeNull();
    expect(localizeTaskMessage('the include archive is damaged', null, null, 'zh')).toBe(
      'the include archive is damaged',
    );
    expect(localizeTaskMessage('x', 'NOT_A_CODE', {}, 'zh')).toBe('x');
    expect(localizeTaskMessage('SPEOS stopped with exit code 3', 'SOLVER_EXIT_CODE', { exit_code: '3' }, 'zh')).toBe(
      'SPEOS 异常退出，退出码 3',
    );
  });
});
