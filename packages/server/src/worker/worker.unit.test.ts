import { describe, expect, it } from 'vitest';
import { buildCommand, checkTemplate, solverOptions, splitTemplate } from './command.js';
import { DEFAULT_PROGRESS_PATTERNS, EMPTY_PROGRESS, parsePatterns, readProgressLine } from './progress.js';

const values = {
  master: '/work/t1/车灯; rm -rf ~ "x".speos',
  master_dir: '/work/t1',
  master_name: '车灯; rm -rf ~ "x".speos',
  include_dir: '/work/t1',
  workdir: '/work/t1',
  thread_count: '8',
  priority: '2',
  job_name: "it's $(reboot)",
  task_id: 'abc',
  version: 'v252',
};

describe('solver command', () => {
  it('splits the template like a shell would, but substitutes inside words', () => {
    expect(splitTemplate(`"/opt/ansys inc/SPEOSHPC.x" {master} -t {thread_count} 'a b' c\\ d`)).toEqual([
      '/opt/ansys inc/SPEOSHPC.x',
      '{master}',
      '-t',
      '{thread_count}',
      'a b',
      'c d',
    ]);
    expect(() => splitTemplate('"unclosed')).toThrow('unclosed');
  });

  it('keeps every user value one argument, whatever characters it has', () => {
    const argv = buildCommand('/opt/SPEOSHPC.x {master} -t {thread_count} -p {priority} --name={job_name}', values, []);
    expect(argv).toEqual([
      '/opt/SPEOSHPC.x',
      '/work/t1/车灯; rm -rf ~ "x".speos',
      '-t',
      '8',
      '-p',
      '2',
      `--name=it's $(reboot)`,
    ]);
  });

  it('places the optional switches at {options}, or at the end', () => {
    const options = solverOptions({ ray_count: 1000, use_gpu: true, hpc_job_name: 'a b', simulation_index: 0 });
    expect(options).toEqual(['-S', '0', '-r', '1000', '-G', '-J', 'a b']);
    expect(buildCommand('x {options} {master}', values, options)).toEqual(['x', ...options, values.master]);
    expect(buildCommand('x {master}', values, ['-G'])).toEqual(['x', values.master, '-G']);
    expect(solverOptions({ use_gpu: false })).toEqual([]);
  });

  it('refuses templates that cannot work, saying why', () => {
    expect(() => checkTemplate('')).toThrow('empty');
    expect(() => checkTemplate('solver -t {threads} {master}')).toThrow('unknown placeholder {threads}');
    expect(() => checkTemplate('solver -t 8')).toThrow('{master}');
    expect(() => checkTemplate('solver --o={options} {master}')).toThrow('word of its own');
    expect(() => checkTemplate('solver {master} -t {thread_count}')).not.toThrow();
  });
});

describe('progress lines', () => {
  const read = (line: string, from = EMPTY_PROGRESS) => readProgressLine(line, from, DEFAULT_PROGRESS_PATTERNS);

  it('reads percent, passes, sensors and the estimate', () => {
    const a = read('Pass 3/10 - 27.5% done');
    expect(a).toMatchObject({ progress_percent: 27.5, current_pass: 3, total_passes: 10 });
    const b = read('Sensor 2 of 5, estimated time remaining: 00:12:34', a!);
    expect(b).toMatchObject({
      progress_percent: 27.5,
      current_pass: 3,
      current_sensor: 2,
      total_sensors: 5,
      estimated_time: '00:12:34',
      estimated_seconds: 754,
    });
    expect(b!.message).toContain('Sensor 2 of 5');
    expect(read('Loading geometry...')).toBeNull();
  });

  it('takes replacement patterns from JSON', () => {
    const patterns = parsePatterns('{"percent": "Fortschritt (\\\\d+)"}');
    expect(readProgressLine('Fortschritt 42', EMPTY_PROGRESS, patterns)?.progress_percent).toBe(42);
    expect(() => parsePatterns('{"speed": "x"}')).toThrow('unknown pattern "speed"');
  });
});
