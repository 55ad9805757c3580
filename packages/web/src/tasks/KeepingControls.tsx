/**
 * On a task's page: "Notify me" (browser notifications while the portal is open), "Keep
 * files" (pin against retention), and what retention already deleted.
 */
import type { TaskDetail } from '@speos-portal/protocol';
import { useState } from 'react';
import { auth, errorDetail } from '../api.js';
import { formatTime } from '../format.js';
import { useI18n } from '../i18n/i18n.js';
import { useObservable } from '../uploads/use-observable.js';
import { notificationsSupported, watcher } from './watch.js';

const ENDED = new Set(['SUCCESS', 'FAILURE', 'CANCELLED']);
const WATCHABLE = new Set(['UPLOADING', 'PENDING', 'RUNNING']);

export function KeepingControls({ task, onChanged }: { task: TaskDetail; onChanged(): void }) {
  const { t } = useI18n();
  const { watched } = useObservable(watcher);
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const isWatched = task.task_id in watched;
  const toggleWatch = async () => {
    setProblem(undefined);
    if (isWatched) return watcher.unwatch(task.task_id);
    if (!notificationsSupported()) return setProblem(t('notifyUnsupported'));
    if (!(await watcher.watch(task.task_id, task.status))) setProblem(t('notifyDenied'));
  };
  const togglePin = async () => {
    setBusy(true);
    setProblem(undefined);
    try {
      await auth.client().pinTask(task.task_id, !task.pinned);
      onChanged();
    } catch (error) {
      setProblem(errorDetail(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="keeping">
      <div className="keeping-actions">
        {WATCHABLE.has(task.status) || isWatched ? (
          <button type="button" className="quiet" aria-pressed={isWatched} onClick={toggleWatch}>
            {isWatched ? t('notifyUnwatch') : t('notifyWatch')}
          </button>
        ) : null}
        {!task.files_expired_at ? (
          <button type="button" className="quiet" aria-pressed={!!task.pinned} onClick={togglePin} disabled={busy}>
            {task.pinned ? t('unpinTask') : t('pinTask')}
          </button>
        ) : null}
      </div>
      {task.pinned && ENDED.has(task.status) ? <p className="muted small">{t('pinnedHint')}</p> : null}
      {task.files_expired_at ? (
        <p className="notice info" data-testid="files-expired">
          {t('filesExpired', { time: formatTime(task.files_expired_at) })}
        </p>
      ) : null}
      {task.logs_expired_at ? (
        <p className="notice info">{t('logsExpired', { time: formatTime(task.logs_expired_at) })}</p>
      ) : null}
      {problem ? (
        <p className="notice error" role="alert">
          {problem}
        </p>
      ) : null}
    </div>
  );
}
