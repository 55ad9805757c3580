/**
 * Prints one plain closing line, `Tests: N passed, N failed, N skipped`, after Vitest's
 * own summary: the form CI tools read from any test runner.
 */
import type { Reporter, RunnerTask, RunnerTestFile } from 'vitest';

function count(tasks: RunnerTask[], totals: { passed: number; failed: number; skipped: number }): void {
  for (const task of tasks) {
    if (task.type === 'suite') {
      count(task.tasks, totals);
      if (task.result?.state === 'fail' && task.tasks.length === 0) totals.failed++;
      continue;
    }
    if (task.mode === 'skip' || task.mode === 'todo') totals.skipped++;
    else if (task.result?.state === 'pass') totals.passed++;
    else if (task.result?.state === 'fail') totals.failed++;
    else totals.skipped++;
  }
}

export default class SummaryReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = [], errors: unknown[] = []): void {
    const totals = { passed: 0, failed: 0, skipped: 0 };
    for (const file of files) {
      // A file that failed to load has no tests but must count as a failure.
      if (file.result?.state === 'fail' && file.tasks.length === 0) totals.failed++;
      count(file.tasks, totals);
    }
    totals.failed += errors.length;
    console.log(`\nTests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  }
}
