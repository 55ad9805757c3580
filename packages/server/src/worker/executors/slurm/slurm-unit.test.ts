/**
 * The Slurm executor's pieces that need no cluster: the batch script (run by a real
 * /bin/sh), sbatch's options, what a job's end means, and the executor settings.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '@speos-portal/test-support/portal.js';
import { describe, expect, it } from 'vitest';
import type { TaskRow } from '../../../db/schema.js';
import { loadWorkerConfig } from '../../config.js';
import { exitFromSlurm } from './states.js';
import { batchScript, sbatchArguments } from './submit.js';

const run = promisify(execFile);

describe('batchScript', () => {
  it('passes every word to the solver as it is: quotes, $, ;, spaces, newlines and globs stay characters', async () => {
    const dir = await tempDir('speos-batch-');
    const words = [
      "it's",
      '"double"',
      '$HOME',
      '`id`',
      'a; rm -rf /',
      'two  spaces',
      'line\nbreak',
      '*',
      '车灯 模型.speos',
      '',
    ];
    const script = path.join(dir, 'job.sh');
    await writeFile(
      script,
      batchScript([process.execPath, '-e', 'console.log(JSON.stringify(process.argv.slice(1)))', ...words], 't1'),
    );
    const { stdout } = await run('/bin/sh', [script], { cwd: dir });
    expect(JSON.parse(stdout)).toEqual(words);
  });
});

describe('sbatchArguments', () => {
  const task = (over: Partial<TaskRow> = {}) =>
    ({ task_id: 'abcdef12-0000', job_name: '车灯 "A"; x', thread_count: 4, params: '{}', ...over }) as TaskRow;
  it('names the job, its folder, output, cpus, nodes, time and licences; site options come first', () => {
    const args = sbatchArguments({
      task: task({ params: JSON.stringify({ node_count: 2, walltime_hours: 1.5 }) }),
      cwd: '/w/t/input',
      output: '/w/t/out.txt',
      comment: 'speos-portal:t',
      licenses: ['speos', 'hpc'],
      siteArgs: ['--partition=optics'],
    });
    expect(args).toEqual([
      '--parsable',
      '--partition=optics',
      '--job-name=车灯_A_x',
      '--chdir=/w/t/input',
      '--output=/w/t/out.txt',
      '--comment=speos-portal:t',
      '--cpus-per-task=4',
      '--no-requeue',
      '--nodes=2',
      '--time=90',
      '--licenses=speos:1,hpc:1',
    ]);
  });
  it('rounds a short walltime up to Slurm’s one minute; a job without a name is named after its task', () => {
    const args = sbatchArguments({
      task: task({ job_name: ' ;; ', params: JSON.stringify({ walltime_hours: 0.001 }) }),
      cwd: '/w',
      output: '/w/o',
      comment: 'c',
      licenses: [],
      siteArgs: [],
    });
    expect(args).toContain('--time=1');
    expect(args).toContain('--job-name=speos-abcdef12');
    expect(args.some((a) => a.startsWith('--licenses'))).toBe(false);
  });
});

describe('exitFromSlurm', () => {
  const context = { jobId: '7', cancelRequested: false, timeLimitMinutes: 60 };
  it('decodes raw wait statuses and names each way Slurm ends a job', () => {
    expect(exitFromSlurm('COMPLETED', 0, context)).toEqual({ code: 0, signal: null });
    expect(exitFromSlurm('FAILED', 3 << 8, context)).toEqual({ code: 3, signal: null });
    expect(exitFromSlurm('FAILED', 9, context)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(exitFromSlurm('TIMEOUT', 15, context).failure).toBe(
      'Slurm job 7 reached its time limit of 1 h and Slurm stopped it; retry with a larger walltime_hours',
    );
    expect(exitFromSlurm('OUT_OF_MEMORY', 9, context).failure).toMatch(/^Slurm job 7 ran out of memory/);
    expect(exitFromSlurm('NODE_FAIL', 0, context).failure).toMatch(/compute node running Slurm job 7 failed/);
    expect(exitFromSlurm('CANCELLED', 15, context).failure).toMatch(/cancelled in Slurm .* not from the portal/);
    expect(exitFromSlurm('CANCELLED', 15, { ...context, cancelRequested: true })).toEqual({
      code: null,
      signal: 'SIGTERM',
    });
    expect(exitFromSlurm('PREEMPTED', 0, context).failure).toMatch(/preempted/);
    expect(exitFromSlurm('WEIRD', 0, context).failure).toBe('Slurm ended Slurm job 7 as WEIRD');
    // The completion log has no exit status: the state alone decides.
    expect(exitFromSlurm('COMPLETED', undefined, context)).toEqual({ code: 0, signal: null });
  });
});

describe('executor settings', () => {
  it('defaults to the local executor and checks the Slurm settings with their names', () => {
    expect(loadWorkerConfig({}, '/data').executor).toEqual({ kind: 'local' });
    expect(
      loadWorkerConfig(
        { EXECUTOR: 'slurm', SLURM_WORKDIR_ROOT: '/shared/w', SLURM_SBATCH_ARGS: "-p optics --comment='a b'" },
        '/data',
      ).executor,
    ).toEqual({
      kind: 'slurm',
      workdirRoot: '/shared/w',
      sbatchArgs: ['-p', 'optics', '--comment=a b'],
      pollSeconds: 3,
    });
    const cases: [Record<string, string>, RegExp][] = [
      [{ EXECUTOR: 'pbs' }, /EXECUTOR.*"local" or "slurm"/],
      [{ EXECUTOR: 'slurm' }, /SLURM_WORKDIR_ROOT/],
      [{ EXECUTOR: 'slurm', SLURM_WORKDIR_ROOT: 'relative/dir' }, /SLURM_WORKDIR_ROOT.*absolute/],
      [{ EXECUTOR: 'slurm', SLURM_WORKDIR_ROOT: '/w', SLURM_SBATCH_ARGS: "-p 'open" }, /SLURM_SBATCH_ARGS/],
      [{ EXECUTOR: 'slurm', SLURM_WORKDIR_ROOT: '/w', SLURM_POLL_SECONDS: '0' }, /SLURM_POLL_SECONDS/],
    ];
    for (const [env, message] of cases)
      expect(() => loadWorkerConfig(env, '/data'), JSON.stringify(env)).toThrow(message);
  });
});

describe('speos-portal worker with EXECUTOR=slurm', () => {
  it('refuses to start, naming what to install, when Slurm’s commands are missing', async () => {
    const dataDir = await tempDir('speos-slurm-missing-');
    const serverDist = new URL('../../../../dist/index.js', import.meta.url).pathname;
    const result = await run(
      process.execPath,
      ['-e', `import(${JSON.stringify(serverDist)}).then((m) => m.runWorker())`],
      {
        env: {
          PATH: dataDir, // no sbatch here
          DATA_DIR: dataDir,
          SPEOS_COMMAND: 'solver {master}',
          EXECUTOR: 'slurm',
          SLURM_WORKDIR_ROOT: path.join(dataDir, 'shared'),
        },
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^speos-portal worker: EXECUTOR=slurm needs Slurm's commands .*apt-get install slurm-client/,
    );
  });
});
