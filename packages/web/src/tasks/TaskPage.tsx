/** One task: what was asked (parameters, files), what happened (status history, times). */
import type { TaskDetail, TaskFile } from '@speos-portal/protocol';
import { useState } from 'react';
import { apiBaseUrl, auth, errorDetail } from '../api.js';
import { formatBytes, formatDuration, formatTime } from '../format.js';
import { useI18n } from '../i18n/i18n.js';
import { en, type MessageKey } from '../i18n/messages.js';
import { ACTIVE_STATUSES, StatusBadge } from './StatusBadge.js';
import { usePolling } from './use-polling.js';

export function TaskPage({ taskId }: { taskId: string }) {
  const { t } = useI18n();
  const detail = usePolling(
    taskId,
    (signal) => auth.client().getTaskDetail(taskId, signal),
    (task) => ACTIVE_STATUSES.has(task.status),
  );
  const task = detail.data;
  return (
    <div className="page task-page">
      <a className="back" href="#/tasks">
        {t('backToTasks')}
      </a>
      {detail.error && !task ? (
        <p className="notice error" role="alert">
          {detail.status === 404 ? t('taskNotFound', { id: taskId }) : detail.error}
        </p>
      ) : null}
      {!task && !detail.error ? <p className="muted">{t('loading')}</p> : null}
      {task ? <TaskView task={task} /> : null}
    </div>
  );
}

function TaskView({ task }: { task: TaskDetail }) {
  const { t } = useI18n();
  const title = task.display_name || task.job_name || task.master?.filename || t('untitled');
  return (
    <>
      <div className="page-head">
        <h1>{title}</h1>
        <StatusBadge status={task.status} />
      </div>
      <p className="mono muted small">
        {t('taskId')}: {task.task_id}
      </p>
      {task.message || task.error_detail ? (
        <div className={`notice ${task.status === 'FAILURE' ? 'error' : 'info'}`}>
          {task.message ? <p>{task.message}</p> : null}
          {task.error_detail ? <pre className="error-detail">{task.error_detail}</pre> : null}
        </div>
      ) : null}
      <div className="task-grid">
        <section className="card" aria-labelledby="params-title">
          <h2 id="params-title">{t('sectionParams')}</h2>
          <Parameters task={task} />
        </section>
        <section className="card" aria-labelledby="times-title">
          <h2 id="times-title">{t('sectionTimes')}</h2>
          <Times task={task} />
        </section>
        <section className="card" aria-labelledby="files-title">
          <h2 id="files-title">{t('sectionFiles')}</h2>
          <FileLine taskId={task.task_id} kind="master" file={task.master} />
          {task.include ? (
            <FileLine taskId={task.task_id} kind="include" file={task.include} />
          ) : (
            <p className="muted small">{t('noInclude')}</p>
          )}
        </section>
        <section className="card" aria-labelledby="history-title">
          <h2 id="history-title">{t('sectionHistory')}</h2>
          <ol className="history">
            {task.status_history.map((change) => (
              <li key={`${change.status}-${change.at}`}>
                <StatusBadge status={change.status} past />
                <time className="mono small">{formatTime(change.at)}</time>
                {change.message ? <span className="muted small">{change.message}</span> : null}
              </li>
            ))}
          </ol>
        </section>
        {/* Placeholder: logs (GET /tasks/{id}/logs) and outputs (GET /tasks/{id}/outputs) come with the workers. */}
        <section className="card later span-2" aria-labelledby="later-title" data-placeholder="logs-and-outputs">
          <h2 id="later-title">{t('sectionLater')}</h2>
          <p className="muted">{t('laterNote')}</p>
        </section>
      </div>
    </>
  );
}

function Parameters({ task }: { task: TaskDetail }) {
  const { t } = useI18n();
  const rows: [string, unknown][] = [
    [t('jobName'), task.job_name],
    [t('submitter'), task.submitter],
    [t('profile'), task.profile_name],
    [t('version'), task.version],
    [t('threads'), task.thread_count],
    [t('priority'), task.priority],
    ...Object.entries(task.params ?? {}).map(([key, value]): [string, unknown] => [paramLabel(key, t), value]),
  ];
  return (
    <dl className="props">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value === null || value === undefined || value === '' ? t('none') : displayValue(value, t)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** `ray_count` → the form's label for it ("Ray count"), or the key itself for fields the UI does not know. */
function paramLabel(key: string, t: (k: MessageKey) => string): string {
  const camel = key.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase());
  return camel in en ? t(camel as MessageKey) : key;
}

function displayValue(value: unknown, t: (k: MessageKey) => string): string {
  if (typeof value === 'boolean') return value ? t('yes') : t('no');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function Times({ task }: { task: TaskDetail }) {
  const { t } = useI18n();
  const waited = task.started_at ? task.started_at - task.created_at : undefined;
  const ran = task.started_at && task.finished_at ? task.finished_at - task.started_at : undefined;
  const rows: [MessageKey, string][] = [
    ['created', formatTime(task.created_at)],
    ['started', formatTime(task.started_at)],
    ['finished', formatTime(task.finished_at)],
    ['waited', waited !== undefined ? formatDuration(waited) : t('none')],
    ['ran', ran !== undefined ? formatDuration(ran) : t('none')],
    ['elapsed', task.elapsed_seconds != null ? formatDuration(task.elapsed_seconds) : (task.duration ?? t('none'))],
  ];
  return (
    <dl className="props">
      {rows.map(([key, value]) => (
        <div key={key}>
          <dt>{t(key)}</dt>
          <dd className={value === t('none') ? undefined : 'mono'}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * A download link for an input file. Without auth a plain link streams it; with a token the
 * browser cannot add the header to a link, so the file is fetched and handed over as a blob.
 */
function FileLine({ taskId, kind, file }: { taskId: string; kind: 'master' | 'include'; file: TaskFile | null }) {
  const { t } = useI18n();
  const [error, setError] = useState<string | undefined>();
  if (!file) return null;
  const url = `${apiBaseUrl()}/tasks/${encodeURIComponent(taskId)}/files/${kind}`;
  const token = auth.snapshot.token;
  const completed = file.upload_status === 'COMPLETED';
  const download = async () => {
    setError(undefined);
    try {
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      if (!response.ok) throw new Error(`${response.status} ${(await response.text()).slice(0, 200)}`);
      const link = document.createElement('a');
      link.href = URL.createObjectURL(await response.blob());
      link.download = file.filename;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (e) {
      setError(errorDetail(e));
    }
  };
  return (
    <div className="file-line">
      <span className="tag">{t(kind === 'master' ? 'fileMaster' : 'fileInclude')}</span>
      <span className="file-name" title={file.filename}>
        {file.filename}
      </span>
      <span className="muted small">
        {formatBytes(file.size)}
        {completed ? '' : ` · ${file.upload_status}`}
      </span>
      {completed ? (
        token ? (
          <button type="button" className="small" onClick={() => void download()}>
            {t('download')}
          </button>
        ) : (
          <a className="button small" href={url} download={file.filename}>
            {t('download')}
          </a>
        )
      ) : null}
      {error ? <span className="field-error">{error}</span> : null}
    </div>
  );
}
