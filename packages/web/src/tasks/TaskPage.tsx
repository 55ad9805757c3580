/** One task: what is happening (progress, log, outputs, actions), what was asked, what happened. */
import { localizeTaskMessage, type ProgressInfo, type TaskDetail, type TaskFile } from '@speos-portal/protocol';
import { useState } from 'react';
import { apiUrl, auth, errorDetail, saveDownload } from '../api.js';
import { formatBytes, formatDuration, formatTime, ordinal } from '../format.js';
import { useI18n } from '../i18n/i18n.js';
import { en, type MessageKey } from '../i18n/messages.js';
import { hrefTask } from '../shell/router.js';
import { useObservable } from '../uploads/use-observable.js';
import { KeepingControls } from './KeepingControls.js';
import { LogTail } from './LogTail.js';
import { OutputsPanel } from './OutputsPanel.js';
import { ACTIVE_STATUSES, StatusBadge } from './StatusBadge.js';
import { TaskActions } from './TaskActions.js';
import { usePolling } from './use-polling.js';

export function TaskPage({ taskId }: { taskId: string }) {
  const { t } = useI18n();
  const [running, setRunning] = useState(false);
  const detail = usePolling(
    taskId,
    (signal) => auth.client().getTaskDetail(taskId, signal),
    (task) => {
      setRunning(task.status === 'RUNNING');
      return ACTIVE_STATUSES.has(task.status);
    },
    // Running: every second, so the progress keeps pace with the log (the worker saves it each second).
    running ? 1000 : 2500,
  );
  const task = detail.data;
  return (
    <div className="page task-page">
      <a className="back" href="#/tasks">
        {t('backToTasks')}
      </a>
      {detail.error && !task ? (
        <p className="notice error" role="alert">
          {detail.status === 404 || detail.status === 422
            ? t('taskNotFound', { id: taskId })
            : detail.status === 401
              ? t('errUnauthenticated')
              : detail.error}
        </p>
      ) : null}
      {!task && !detail.error ? <p className="muted">{t('loading')}</p> : null}
      {task ? <TaskView task={task} onChanged={detail.reload} /> : null}
    </div>
  );
}

/** Statuses whose task reached a worker's queue: they have (or will have) a log. */
const QUEUED_OR_RUN = new Set(['PENDING', 'RUNNING', 'SUCCESS', 'FAILURE', 'CANCELLED']);

function TaskView({ task, onChanged }: { task: TaskDetail; onChanged(): void }) {
  const { t, lang } = useI18n();
  // The log panel's text once complete: a failure's error detail is usually its last lines.
  const [logText, setLogText] = useState<string | undefined>();
  const title = task.display_name || task.job_name || task.master?.filename || t('untitled');
  return (
    <>
      <div className="page-head task-head">
        <h1>{title}</h1>
        <StatusBadge status={task.status} />
        <TaskActions task={task} onChanged={onChanged} />
      </div>
      <div className="task-meta mono muted small">
        <span>
          {t('taskId')}: {task.task_id}
        </span>
        <Lineage task={task} />
      </div>
      <Outcome task={task} logText={logText} />
      <KeepingControls task={task} onChanged={onChanged} />
      {task.status === 'RUNNING' ? <RunProgress task={task} /> : null}
      {task.status === 'PENDING' ? <QueueNote task={task} /> : null}
      <div className="task-grid">
        {QUEUED_OR_RUN.has(task.status) ? (
          <>
            <LogTail taskId={task.task_id} queued={task.status === 'PENDING'} onFinished={setLogText} />
            <OutputsPanel taskId={task.task_id} status={task.status} />
          </>
        ) : null}
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
                {change.message ? (
                  <span className="muted small">
                    {localizeTaskMessage(change.message, change.code, change.params, lang)}
                  </span>
                ) : null}
              </li>
            ))}
          </ol>
        </section>
      </div>
    </>
  );
}

/** "Retry of 1a2b3c4d" and "Run again as 5e6f…": links between a task and its retries. */
function Lineage({ task }: { task: TaskDetail }) {
  const { t } = useI18n();
  return (
    <>
      {task.parent_task_id ? (
        <span className="lineage">
          {t('retryOf')}{' '}
          <a className="lineage-link" href={hrefTask(task.parent_task_id)} title={task.parent_task_id}>
            {task.parent_task_id.slice(0, 8)}
          </a>
        </span>
      ) : null}
      {task.retried_task_ids.length > 0 ? (
        <span className="lineage">
          {t('retriedAs')}{' '}
          {task.retried_task_ids.map((id, i) => (
            <span key={id}>
              {i > 0 ? ', ' : ''}
              <a className="lineage-link" href={hrefTask(id)} title={id}>
                {id.slice(0, 8)}
              </a>
            </span>
          ))}
        </span>
      ) : null}
    </>
  );
}

/** A failure says what went wrong up front, the solver's last words folded below; other endings quietly. */
/** The log tail behind a failure or a stop, folded: it is long and rarely needed. */
function ErrorDetail({ detail }: { detail: string | null }) {
  const { t } = useI18n();
  if (!detail) return null;
  return (
    <details className="error-details">
      <summary>{t('errorDetail')}</summary>
      <pre className="error-detail">{detail}</pre>
    </details>
  );
}

function Outcome({ task, logText }: { task: TaskDetail; logText: string | undefined }) {
  const { t, lang } = useI18n();
  // The same lines twice (folded here and in the log below) only confuse: keep the log's.
  const detail = task.error_detail && logText?.includes(task.error_detail.trim()) ? null : task.error_detail;
  if (!task.message && !detail) return null;
  const message = task.message ? localizeTaskMessage(task.message, task.message_code, task.message_params, lang) : null;
  if (task.status === 'FAILURE') {
    return (
      <div className="notice error outcome" role="alert">
        <p className="outcome-title">{t('failureTitle')}</p>
        {message ? <p className="outcome-message">{message}</p> : null}
        <ErrorDetail detail={detail} />
      </div>
    );
  }
  return (
    <div className="notice info">
      {message ? <p>{message}</p> : null}
      <ErrorDetail detail={detail} />
    </div>
  );
}

function RunProgress({ task }: { task: TaskDetail }) {
  const { t } = useI18n();
  const p: Partial<ProgressInfo> = task.progress_info ?? {};
  const percent = p.progress_percent ?? null;
  const of = (current: number | null | undefined, total: number | null | undefined) =>
    current != null ? t('progressOf', { current, total: total ?? '?' }) : t('none');
  const facts: [MessageKey, string][] = [
    ['progressPass', of(p.current_pass, p.total_passes)],
    ['progressSensor', of(p.current_sensor, p.total_sensors)],
    ['progressEta', p.estimated_time ?? t('none')],
    ['elapsed', task.elapsed_seconds != null ? formatDuration(task.elapsed_seconds) : t('none')],
  ];
  return (
    <section className="card progress-card" aria-labelledby="progress-title">
      <div className="card-head">
        <h2 id="progress-title">{t('sectionProgress')}</h2>
        <span className="progress-percent" data-percent={percent ?? ''}>
          {percent != null ? `${Math.round(percent)}%` : ''}
        </span>
      </div>
      <div
        className="bar run-bar"
        role="progressbar"
        aria-label={t('runProgressLabel')}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent ?? undefined}
      >
        <div className="bar-fill" style={{ width: `${percent ?? 0}%` }} />
      </div>
      <dl className="progress-facts">
        {facts.map(([key, value]) => (
          <div key={key}>
            <dt>{t(key)}</dt>
            <dd className="mono">{value}</dd>
          </div>
        ))}
      </dl>
      <p className="progress-message mono small" title={p.message ?? undefined}>
        <span className="muted">{t('progressLast')}: </span>
        {p.message ?? t('progressStarting')}
      </p>
    </section>
  );
}

function Parameters({ task }: { task: TaskDetail }) {
  const { t } = useI18n();
  const rows: [string, unknown][] = [
    [t('jobName'), task.job_name],
    // Present only in admins' answers.
    ...(task.owner
      ? [
          [
            t('ownerLabel'),
            task.owner.email && task.owner.email !== task.owner.name
              ? `${task.owner.name} (${task.owner.email})`
              : task.owner.name,
          ] as [string, unknown],
        ]
      : []),
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
 * file is fetched with it (see saveDownload).
 */
function FileLine({ taskId, kind, file }: { taskId: string; kind: 'master' | 'include'; file: TaskFile | null }) {
  const { t } = useI18n();
  const { token } = useObservable(auth);
  const [error, setError] = useState<string | undefined>();
  if (!file) return null;
  const path = `/tasks/${encodeURIComponent(taskId)}/files/${kind}`;
  const completed = file.upload_status === 'COMPLETED';
  const download = async () => {
    setError(undefined);
    try {
      await saveDownload(path, file.filename);
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
          <a className="button small" href={apiUrl(path)} download={file.filename}>
            {t('download')}
          </a>
        )
      ) : null}
      {error ? <span className="field-error">{error}</span> : null}
    </div>
  );
}

/**
 * Where a waiting task stands: "3rd in line — waiting for a licence" (queue_position and
 * queue_reason), and a warning when something a person must fix holds it (no worker for
 * it). Without a reason the general note says what it waits for.
 */
function QueueNote({ task }: { task: TaskDetail }) {
  const { t, lang } = useI18n();
  const position = task.queue_position;
  const place = !position
    ? null
    : position === 1
      ? t('queueNext')
      : t('queuePlace', { ordinal: ordinal(position), n: position });
  // A coded reason (no worker online, none for this version) is something a person should act
  // on: a warning of its own, in the page's language. Others (a licence pool, Slurm's reason)
  // are shown as the server says them, beside the place in line.
  const coded = task.queue_reason && task.queue_reason_code ? task.queue_reason : null;
  const plain = task.queue_reason && !task.queue_reason_code ? task.queue_reason : null;
  return (
    <>
      {task.queue_reason ? null : <p className="notice info queue-reason">{t('queuedNote')}</p>}
      {coded ? (
        <p className="notice warn queue-reason" data-code={task.queue_reason_code ?? ''}>
          {localizeTaskMessage(coded, task.queue_reason_code, { version: task.version ?? '?' }, lang)}
        </p>
      ) : null}
      {place || plain ? (
        <p className="notice info" data-testid="queue-place">
          {place && plain ? `${place} — ${plain}` : (place ?? plain)}
          {task.slurm_job_id ? <span className="muted small mono"> · Slurm job {task.slurm_job_id}</span> : null}
        </p>
      ) : null}
    </>
  );
}
