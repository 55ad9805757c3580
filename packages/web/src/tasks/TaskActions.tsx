/**
 * Stop (queued or running), Retry (ended) and Delete (not while running), each behind a
 * confirmation. Retry opens the new task; Delete goes back to the list.
 */
import type { TaskDetail, TaskStatus } from '@speos-portal/protocol';
import { useRef, useState } from 'react';
import { auth, errorDetail } from '../api.js';
import { useI18n } from '../i18n/i18n.js';
import { hrefTask } from '../shell/router.js';
import { ConfirmDialog } from './ConfirmDialog.js';

type Action = 'stop' | 'retry' | 'delete';

const STOPPABLE: ReadonlySet<TaskStatus> = new Set(['PENDING', 'RUNNING']);
const RETRYABLE: ReadonlySet<TaskStatus> = new Set(['SUCCESS', 'FAILURE', 'CANCELLED']);

export function TaskActions({ task, onChanged }: { task: TaskDetail; onChanged(): void }) {
  const { t } = useI18n();
  const [asking, setAsking] = useState<Action | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  // The dialog keeps its last words while it closes, rather than flashing empty.
  const shown = useRef<Action>('stop');
  if (asking) shown.current = asking;
  const id = task.task_id;

  const ask = (action: Action) => {
    setError(undefined);
    setAsking(action);
  };

  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      if (asking === 'stop') {
        await auth.client().stopTask(id);
        setAsking(undefined);
        onChanged();
      } else if (asking === 'retry') {
        const retried = await auth.client().retryTask(id);
        setAsking(undefined);
        window.location.hash = hrefTask(retried.new_task_id);
      } else if (asking === 'delete') {
        await auth.client().deleteTask(id);
        setAsking(undefined);
        window.location.hash = '#/tasks';
      }
    } catch (e) {
      auth.noticeError(e);
      setError(errorDetail(e));
      onChanged(); // the refusal (409) usually means the status moved on
    } finally {
      setBusy(false);
    }
  };

  const words = {
    stop: {
      title: t('confirmStopTitle'),
      body: t(task.status === 'RUNNING' ? 'confirmStopRunning' : 'confirmStopPending'),
      yes: t('confirmStopYes'),
    },
    retry: { title: t('confirmRetryTitle'), body: t('confirmRetryBody'), yes: t('confirmRetryYes') },
    delete: { title: t('confirmDeleteTitle'), body: t('confirmDeleteBody'), yes: t('confirmDeleteYes') },
  }[shown.current];

  return (
    <div className="task-actions">
      {STOPPABLE.has(task.status) ? (
        <button type="button" className="danger" onClick={() => ask('stop')}>
          <span className="icon-stop" aria-hidden="true" />
          {t('actionStop')}
        </button>
      ) : null}
      {RETRYABLE.has(task.status) ? (
        <button type="button" onClick={() => ask('retry')}>
          <span aria-hidden="true">↻</span>
          {t('actionRetry')}
        </button>
      ) : null}
      {task.status !== 'RUNNING' ? (
        <button type="button" className="danger" onClick={() => ask('delete')}>
          {t('actionDelete')}
        </button>
      ) : null}
      <ConfirmDialog
        open={asking !== undefined}
        title={words.title}
        confirmLabel={words.yes}
        danger={shown.current !== 'retry'}
        busy={busy}
        error={error}
        onConfirm={() => void confirm()}
        onClose={() => setAsking(undefined)}
      >
        <p>{words.body}</p>
        <p className="confirm-target">
          <span>{task.display_name || task.job_name || t('untitled')}</span>
          <span className="mono muted small">{id.slice(0, 8)}</span>
        </p>
      </ConfirmDialog>
    </div>
  );
}
