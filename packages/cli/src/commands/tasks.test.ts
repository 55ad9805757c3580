/**
 * `speos-portal tasks logs/stop/retry/delete/outputs` and `speos-portal worker`: the built CLI
 * against a real portal with a real worker running real child processes. The solver is a
 * TEST DOUBLE (packages/test-support/src/fake-speos.mjs): SPEOS cannot be installed here, so
 * a small script stands in for it — it reads the master (JSON saying what to do), prints
 * progress lines, writes result files and exits with the code asked for, or runs until
 * stopped. Needs `npm run build` (npm test does it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { TaskDetail } from '@speos-portal/protocol';
import { TestApi } from '@speos-portal/test-support/api.js';
import { CLI_COMMAND, runCli, STANDALONE, startCli, waitFor } from '@speos-portal/test-support/cli.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetPath } from './task-outputs.js';

const COMMAND = `${process.execPath} ${FAKE} {master} -t {thread_count} -p {priority}`;
const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0;

/** Uploads a master whose JSON tells the fake solver what to do, and submits it. */
async function submit(api: TestApi, plan: Record<string, unknown>, jobName = 'headlamp'): Promise<string> {
  const { init } = await api.uploadFile(Buffer.from(JSON.stringify(plan)), { filename: 'model.speos' });
  const res = await api.post('/tasks/upload/confirm', {
    task_id: init.task_id,
    master_object_key: init.object_key,
    job_name: jobName,
  });
  if (res.status !== 200) throw new Error(`confirm failed: ${JSON.stringify(res.body)}`);
  return init.task_id as string;
}

const detail = async (api: TestApi, id: string) => (await api.get<TaskDetail>(`/tasks/${id}/detail`)).body;
const until = (api: TestApi, id: string, statuses: string[]) =>
  waitFor(async () => statuses.includes((await detail(api, id)).status), 30_000, `task ${statuses.join('|')}`);

let dir: string;
beforeAll(async () => {
  dir = await tempDir('speos-cli-tasks-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('speos-portal tasks (fake solver)', () => {
  let portal: TestPortal;
  let api: TestApi;
  let env: Record<string, string>;
  beforeAll(async () => {
    portal = await startTestPortal({
      SPEOS_COMMAND_V252: COMMAND,
      WORKER_SLOTS: '2',
      WORKER_STOP_GRACE_SECONDS: '2',
    });
    api = new TestApi(portal.url);
    env = { SPEOS_PORTAL_URL: portal.url };
  });
  afterAll(() => portal.close());

  it('logs --follow streams the log while the task runs and exits 0 on SUCCESS', async () => {
    const id = await submit(api, { passes: 6, delay_ms: 700 });
    const run = startCli(['tasks', 'logs', id, '--follow'], env);
    await waitFor(() => run.stdout().includes('Pass 1/6'), 30_000, 'the first pass in the output');
    // Printed while the solver was still at work, not after the fact.
    expect((await detail(api, id)).status).toBe('RUNNING');
    const { code } = await run.exited;
    expect(run.stderr()).toMatch(new RegExp(`^task ${id}: SUCCESS after \\d+:\\d\\d:\\d\\d\\n$`));
    expect(code).toBe(0);
    const log = (await api.get(`/tasks/${id}/logs?offset=0`)).body;
    expect(run.stdout()).toBe(log.content); // every byte once, in order
    expect(run.stdout()).toContain('Pass 6/6 - 100% done');

    // Without --follow: what there is now, exit 0; --json: the server's answer.
    const once = await runCli(['tasks', 'logs', id, '--json'], env);
    expect(once.code).toBe(0);
    expect(JSON.parse(once.stdout)).toMatchObject({ task_id: id, offset: 0, content: log.content, finished: true });

    // show: progress as the solver reported it.
    const show = await runCli(['tasks', 'show', id], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/progress: +100%, pass 6\/6, sensor 6\/6/);
  });

  it('logs --follow exits 1 with the reason when the task fails; Ctrl-C exits 130 quietly', async () => {
    const failing = await submit(api, { passes: 1, exit: 3, stderr: 'Licence server not reachable' });
    const failed = await runCli(['tasks', 'logs', failing, '--follow'], env);
    expect(failed.stdout).toContain('Licence server not reachable');
    expect(failed.stderr).toMatch(new RegExp(`^task ${failing}: FAILURE after .*\\(.+\\)\\n$`));
    expect(failed.code).toBe(1);
    const show = await runCli(['tasks', 'show', failing], env);
    expect(show.stdout).toMatch(/message: +SPEOS stopped with exit code 3\n/);
    expect(show.stdout).toMatch(/\nerror:\n( {2}.*\n)* {2}Licence server not reachable\n/);

    const hanging = await submit(api, { passes: 1, hang: true });
    const run = startCli(['tasks', 'logs', hanging, '--follow'], env);
    await waitFor(() => run.stdout().includes('simulating forever'), 30_000, 'the hanging solver');
    run.child.kill('SIGINT');
    expect((await run.exited).code).toBe(130);
    expect(run.stderr()).toBe('');
    await runCli(['tasks', 'stop', hanging], env);
  });

  it('stop terminates a hanging solver (CANCELLED); retry queues a new task and prints its id', async () => {
    const id = await submit(api, { passes: 1, hang: true });
    await waitFor(
      async () => (await api.get(`/tasks/${id}/logs?offset=0`)).body.content.includes('simulating forever'),
      30_000,
      'the hanging solver',
    );
    const pid = Number(/PIDS (\d+)/.exec((await api.get(`/tasks/${id}/logs?offset=0`)).body.content)![1]);
    const stop = await runCli(['tasks', 'stop', id], env);
    expect(stop.stderr).toBe('');
    expect(stop.code).toBe(0);
    expect(stop.stdout).toMatch(new RegExp(`^task ${id}: CANCELLED \\(.*terminated process(es)? .*${pid}.*\\)\\n$`));
    expect((await detail(api, id)).status).toBe('CANCELLED');
    expect(() => process.kill(pid, 0)).toThrow(); // the solver is gone

    const again = await runCli(['tasks', 'stop', id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^speos-portal tasks: .*\(TASK_NOT_RUNNING\)\n$/);

    const retry = await runCli(['tasks', 'retry', id, '--display-name', '再来一次', '--submitter', 'bob'], env);
    expect(retry.code).toBe(0);
    const newId = new RegExp(`^new task ([0-9a-f-]{36}) \\(PENDING\\), a retry of ${id}\\n$`).exec(retry.stdout)?.[1];
    expect(newId).toBeDefined();
    const retried = await detail(api, newId!);
    expect(retried).toMatchObject({ parent_task_id: id, display_name: '再来一次', submitter: 'bob' });
    const json = await runCli(['tasks', 'stop', newId!, '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ task_id: newId, status: 'CANCELLED', lock_released: true });
    expect((await detail(api, id)).retried_task_ids).toEqual([newId]);
  });

  it('delete asks for --yes without a terminal, deletes with it; show then fails with the server detail', async () => {
    const id = await submit(api, { passes: 1, outputs: { 'report.html': 'x' } });
    await until(api, id, ['SUCCESS']);
    const refused = await runCli(['tasks', 'delete', id], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `speos-portal tasks: not deleting task ${id} without confirmation: no terminal to ask on; add --yes\n`,
    );
    expect((await detail(api, id)).status).toBe('SUCCESS');

    const deleted = await runCli(['tasks', 'delete', id, '--yes'], env);
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toBe(`deleted task ${id}\n`);

    const show = await runCli(['tasks', 'show', id], env);
    const { body } = await api.get(`/tasks/${id}/detail`);
    expect(body.code).toBe('TASK_NOT_FOUND');
    expect(show.code).toBe(1);
    expect(show.stderr).toBe(`speos-portal tasks: ${body.detail} (TASK_NOT_FOUND)\n`);
  });

  it.skipIf(!HAS_SCRIPT)('delete asks on a terminal: "n" keeps the task, "y" deletes it', async () => {
    const id = await submit(api, { passes: 1 }, '前照灯');
    await until(api, id, ['SUCCESS']);
    // util-linux `script` gives the CLI a real terminal; we type the answer once asked.
    const answer = async (reply: string) => {
      const child = spawn(
        'script',
        ['-qec', `${CLI_COMMAND.map((word) => `'${word}'`).join(' ')} tasks delete ${id}`, '/dev/null'],
        {
          env: { ...process.env, ...env, SPEOS_PORTAL_TOKEN: '' },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await waitFor(() => out.includes('[y/N]'), 30_000, 'the question');
      child.stdin.write(`${reply}\n`);
      return { code: await exited, out: out.replace(/\r/g, '') };
    };
    const kept = await answer('n');
    expect(kept.out).toContain(`Delete task ${id} ("前照灯", SUCCESS) and its outputs? [y/N] `);
    expect(kept.out).toContain(`speos-portal tasks: task ${id} not deleted`);
    expect(kept.code).toBe(1);
    expect((await detail(api, id)).status).toBe('SUCCESS');
    const gone = await answer('y');
    expect(gone.out).toContain(`deleted task ${id}`);
    expect(gone.code).toBe(0);
    expect((await api.get(`/tasks/${id}`)).status).toBe(404);
  });

  it('outputs lists the files; --download saves them byte-identical with UTF-8 names and folders; --zip', async () => {
    const outputs = {
      'report.html': '<html>光强分布</html>',
      'sub dir/结果.xmp': `XMP${'照度'.repeat(200_000)}`, // ~1.2 MB, several chunks
      'a/b/c/empty.txt': '',
    };
    const id = await submit(api, { passes: 2, outputs }, '车灯 v2');
    await until(api, id, ['SUCCESS']);

    const list = await runCli(['tasks', 'outputs', id], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^NAME +SIZE\n/);
    expect(list.stdout).toMatch(/report\.html +\d+ B\n/);
    expect(list.stdout).toMatch(/sub dir\/结果\.xmp +1\.1 MiB\n/);
    expect(list.stdout).toMatch(/3 files, 1\.1 MiB\n$/);

    const target = path.join(dir, 'downloaded', '输出');
    const download = await runCli(['tasks', 'outputs', id, '--download', target], env);
    expect(download.stderr).toBe('');
    expect(download.code).toBe(0);
    expect(download.stdout).toMatch(/saved 3 files \(1\.1 MiB\) to .*输出\n$/);
    for (const [name, content] of Object.entries(outputs)) {
      expect((await readFile(path.join(target, ...name.split('/')))).equals(Buffer.from(content))).toBe(true);
    }
    // Nothing else: no temporary files left behind.
    expect((await readdir(target, { recursive: true })).sort()).toEqual(
      ['a', 'a/b', 'a/b/c', 'a/b/c/empty.txt', 'report.html', 'sub dir', 'sub dir/结果.xmp'].map((p) =>
        p.split('/').join(path.sep),
      ),
    );

    const zipFile = path.join(dir, 'zips', 'all.zip');
    const zip = await runCli(['tasks', 'outputs', id, '--zip', zipFile, '--json'], env);
    expect(zip.code).toBe(0);
    expect(JSON.parse(zip.stdout)).toMatchObject({ task_id: id, zip: zipFile, download_name: '车灯 v2-outputs.zip' });
    const bytes = await readFile(zipFile);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
    // The server stores entries uncompressed: every file's bytes and name are in the zip as is.
    for (const [name, content] of Object.entries(outputs)) {
      expect(bytes.includes(Buffer.from(name))).toBe(true);
      expect(bytes.includes(Buffer.from(content))).toBe(true);
    }
  });

  it('outputs --download never writes outside DIR', async () => {
    const root = path.join(dir, 'safe');
    for (const bad of ['../escape.txt', '/etc/passwd', 'a/../../b', 'a//b', './x', '']) {
      expect(() => targetPath(root, bad), bad).toThrow(/refusing to save output/);
    }
    expect(targetPath(root, 'sub dir/结果.xmp')).toBe(path.join(root, 'sub dir', '结果.xmp'));

    // A symbolic link inside DIR that leads elsewhere is not followed.
    const id = await submit(api, { passes: 1, outputs: { 'link/x.txt': 'x' } });
    await until(api, id, ['SUCCESS']);
    const outside = path.join(dir, 'outside');
    await mkdir(outside, { recursive: true });
    await mkdir(root, { recursive: true });
    await symlink(outside, path.join(root, 'link'));
    const run = await runCli(['tasks', 'outputs', id, '--download', root], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^speos-portal tasks: refusing to save output "link\/x\.txt": .* leads outside .*\n$/);
    expect(await readdir(outside)).toEqual([]);
  });

  it('usage errors exit 2 with one line', async () => {
    const cases: [string[], RegExp][] = [
      [['tasks', 'logs'], /^speos-portal tasks: logs takes exactly one TASK_ID, got 0\n$/],
      [['tasks', 'stop', 'a', 'b'], /^speos-portal tasks: stop takes exactly one TASK_ID, got 2\n$/],
      [['tasks', 'show', 'x', '--follow'], /^speos-portal tasks: show does not take --follow; see .*\n$/],
      [['tasks', 'frobnicate', 'x'], /^speos-portal tasks: unknown subcommand "frobnicate"; use list, show, .*\n$/],
      // A well-formed id: a malformed one is "no such task" before the options are looked at.
      [
        ['tasks', 'outputs', '6402a1ff-9762-4e17-8456-a97c474066db', '--zip', ''],
        /^speos-portal tasks: --zip needs a path\n$/,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args, env);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.code, args.join(' ')).toBe(2);
    }
  });
});

describe.skipIf(!STANDALONE)('speos-portal worker in a standalone form (tarball, executable)', () => {
  it('exits 2 naming where the server side runs', async () => {
    for (const command of ['worker', 'serve']) {
      const run = await runCli([command]);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        `speos-portal ${command}: this command belongs to the portal server, which is not installed with this command-line tool; run it where the portal is installed (in a checkout of it: npx speos-portal-server ${command})\n`,
      );
    }
  });
});

// The server side: in a checkout, `speos-portal worker` is handed to packages/server.
describe.skipIf(STANDALONE)('speos-portal worker', () => {
  it('exits 2 with the reason when no SPEOS_COMMAND_* is configured', async () => {
    const dataDir = await tempDir('speos-worker-none-');
    try {
      const run = await runCli(['worker'], { DATA_DIR: dataDir });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^speos-portal worker: no solver command configured\. Set e\.g\. SPEOS_COMMAND_V252=/);
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('runs a task submitted to a server sharing its DATA_DIR to SUCCESS, exits 0 on SIGTERM', async () => {
    const dataDir = await tempDir('speos-worker-');
    const portal = await startTestPortal({}, { dataDir }); // no solver here: the queue only fills
    const worker = startCli(['worker'], { DATA_DIR: dataDir, SPEOS_COMMAND_V252: COMMAND, WORKER_POLL_SECONDS: '0.2' });
    try {
      const api = new TestApi(portal.url);
      const id = await submit(api, { passes: 2, outputs: { 'report.html': '<html>ok</html>' } });
      await until(api, id, ['SUCCESS', 'FAILURE']);
      const done = await detail(api, id);
      expect(done.status).toBe('SUCCESS');
      const logs = await runCli(['tasks', 'logs', id, '--follow'], { SPEOS_PORTAL_URL: portal.url });
      expect(logs.code).toBe(0);
      expect(logs.stdout).toContain('Pass 2/2 - 100% done');
      expect(worker.stdout()).toContain('worker started');
      // The worker logs like the server: pino JSON lines with a level and the task id.
      const lines = worker
        .stdout()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { level: number; msg: string; component?: string; task_id?: string });
      expect(lines.find((l) => l.msg === 'worker started')).toMatchObject({ level: 30, component: 'worker' });
      expect(lines.find((l) => l.msg === 'running task')).toMatchObject({ level: 30, task_id: id });

      // SIGTERM while a solver runs: it is stopped, its task goes back to the queue, exit 0.
      const hanging = await submit(api, { passes: 1, hang: true });
      await until(api, hanging, ['RUNNING']);
      worker.child.kill('SIGTERM');
      const { code } = await worker.exited;
      expect(code).toBe(0);
      expect((await detail(api, hanging)).status).toBe('PENDING');
      // show: a waiting task's place in the queue.
      const later = await submit(api, { passes: 1 });
      const show = await runCli(['tasks', 'show', later], { SPEOS_PORTAL_URL: portal.url });
      expect(show.stdout).toMatch(/\nqueue: +2nd in line\n/);
      expect(show.stdout).not.toMatch(/slurm job:/);
    } finally {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      await portal.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('honours LOG_LEVEL: at error it logs a solver that cannot start, and nothing at info', async () => {
    const dataDir = await tempDir('speos-worker-');
    const portal = await startTestPortal({}, { dataDir });
    const missing = path.join(dataDir, 'no-such-solver');
    const worker = startCli(['worker'], {
      DATA_DIR: dataDir,
      SPEOS_COMMAND_V252: `${missing} {master}`,
      WORKER_POLL_SECONDS: '0.2',
      LOG_LEVEL: 'error',
    });
    try {
      const api = new TestApi(portal.url);
      const id = await submit(api, { passes: 1 });
      await until(api, id, ['FAILURE', 'SUCCESS']);
      expect((await detail(api, id)).status).toBe('FAILURE');
      await waitFor(() => worker.stdout().includes('could not start the solver'), 10_000);
      const lines = worker
        .stdout()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { level: number; msg: string; task_id?: string });
      expect(lines.find((l) => l.msg === 'could not start the solver')).toMatchObject({ level: 50, task_id: id });
      expect(lines.filter((l) => l.level < 50)).toEqual([]);
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
    } finally {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      await portal.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
