/** All tasks, newest first: filters, paging, and a quiet refresh while some are still moving. */
import type { Task, TaskListQuery } from '@speos-portal/protocol';
import { useEffect, useId, useState } from 'react';
import { auth } from '../api.js';
import { formatAgo, formatDuration, formatTime } from '../format.js';
import { useI18n } from '../i18n/i18n.js';
import { hrefTask } from '../shell/router.js';
import { useObservable } from '../uploads/use-observable.js';
import { EmailSetting } from './EmailSetting.js';
import { ACTIVE_STATUSES, STATUSES, StatusBadge, statusLabel } from './StatusBadge.js';
import { UsageLine } from './UsageLine.js';
import { usePolling } from './use-polling.js';

const PAGE_SIZE = 20;

/** Text filters wait for a pause in typing before they query. */
function useDebounced(value: string, ms = 300): string {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function TaskListPage() {
  const { t, lang } = useI18n();
  const ids = useId();
  const [status, setStatus] = useState('');
  const [submitter, setSubmitter] = useState('');
  const [name, setName] = useState('');
  const [owner, setOwner] = useState('');
  const [page, setPage] = useState(1);
  // Admins see everyone's tasks: an owner column and filter.
  const admin = useObservable(auth).me?.user?.admin === true;
  const submitterQuery = useDebounced(submitter.trim());
  const nameQuery = useDebounced(name.trim());
  const query: TaskListQuery = {
    page,
    page_size: PAGE_SIZE,
    ...(status ? { status } : {}),
    ...(submitterQuery ? { submitter: submitterQuery } : {}),
    ...(nameQuery ? { q: nameQuery } : {}),
    ...(admin && owner ? { owner } : {}),
  };
  const list = usePolling(
    JSON.stringify(query),
    (signal) => auth.client().listTasks(query, signal),
    (data) => data.items.some((task) => ACTIVE_STATUSES.has(task.status)),
  );
  const pages = list.data ? Math.max(1, Math.ceil(list.data.total / list.data.page_size)) : 1;
  const polling = list.data?.items.some((task) => ACTIVE_STATUSES.has(task.status)) ?? false;
  const onFilter = (setter: (v: string) => void) => (e: { target: { value: string } }) => {
    setter(e.target.value);
    setPage(1);
  };

  return (
    <div className="page tasks-page">
      <div className="page-head">
        <h1>{t('tasksTitle')}</h1>
        <button type="button" className="quiet" onClick={list.reload}>
          {t('refresh')}
        </button>
      </div>
      <UsageLine refreshKey={String(list.data?.total ?? '')} />
      <EmailSetting />
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label className="field-label" htmlFor={`${ids}-status`}>
            {t('filterStatus')}
          </label>
          <select id={`${ids}-status`} value={status} onChange={onFilter(setStatus)}>
            <option value="">{t('anyStatus')}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {statusLabel(s, lang)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label className="field-label" htmlFor={`${ids}-submitter`}>
            {t('filterSubmitter')}
          </label>
          <input id={`${ids}-submitter`} type="search" value={submitter} onChange={onFilter(setSubmitter)} />
        </div>
        {admin ? <OwnerFilter id={`${ids}-owner`} value={owner} onChange={onFilter(setOwner)} /> : null}
        <div className="field grow">
          <label className="field-label" htmlFor={`${ids}-name`}>
            {t('filterName')}
          </label>
          <input id={`${ids}-name`} type="search" value={name} onChange={onFilter(setName)} />
        </div>
      </form>
      <WorkersLine />
      {list.error ? (
        <p className="notice error" role="alert">
          {list.status === 401 ? t('errUnauthenticated') : list.error}
        </p>
      ) : null}
      <div className="table-wrap card flush">
        <table className="tasks-table" aria-busy={list.loading}>
          <thead>
            <tr>
              <th scope="col">{t('colJob')}</th>
              <th scope="col">{t('colStatus')}</th>
              {admin ? <th scope="col">{t('colOwner')}</th> : null}
              <th scope="col">{t('colSubmitter')}</th>
              <th scope="col">{t('colVersion')}</th>
              <th scope="col" className="num">
                {t('colThreads')}
              </th>
              <th scope="col">{t('colCreated')}</th>
              <th scope="col" className="num">
                {t('colDuration')}
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((task) => (
              <TaskRow key={task.task_id} task={task} showOwner={admin} />
            ))}
            {list.data && list.data.items.length === 0 ? (
              <tr>
                <td colSpan={admin ? 8 : 7} className="empty">
                  {t('noTasks')}
                </td>
              </tr>
            ) : null}
            {!list.data && list.loading ? (
              <tr>
                <td colSpan={admin ? 8 : 7} className="empty">
                  {t('loading')}
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <nav
        className="pager"
        aria-label={t(list.data?.total === 1 ? 'pageOfOne' : 'pageOf', { page, pages, total: list.data?.total ?? 0 })}
      >
        <button type="button" disabled={page <= 1} onClick={() => setPage((p) => p - 1)} aria-label={t('prev')}>
          ‹
        </button>
        <span>{t(list.data?.total === 1 ? 'pageOfOne' : 'pageOf', { page, pages, total: list.data?.total ?? 0 })}</span>
        <button type="button" disabled={page >= pages} onClick={() => setPage((p) => p + 1)} aria-label={t('next')}>
          ›
        </button>
        {polling ? <span className="muted small">{t('autoRefresh')}</span> : null}
      </nav>
    </div>
  );
}

/** "2 workers online", or that jobs will wait because none is: first-run portals often have none. */
function WorkersLine() {
  const { t } = useI18n();
  const workers = usePolling(
    'workers',
    (signal) => auth.client().listWorkers(signal),
    () => true,
    10_000,
  );
  if (!workers.data) return null;
  const online = workers.data.online;
  return (
    <p className={`workers-line ${online === 0 ? 'notice warn' : 'muted small'}`} role="status">
      {online === 0 ? t('workersNone') : online === 1 ? t('workersOnlineOne') : t('workersOnline', { count: online })}
    </p>
  );
}

/** Admins: the people who own tasks (GET /admin/owners). */
function OwnerFilter({
  id,
  value,
  onChange,
}: {
  id: string;
  value: string;
  onChange(e: { target: { value: string } }): void;
}) {
  const { t } = useI18n();
  const owners = usePolling(
    'owners',
    (signal) => auth.client().listOwners(signal),
    () => false,
  );
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        {t('filterOwner')}
      </label>
      <select id={id} value={value} onChange={onChange}>
        <option value="">{t('anyOwner')}</option>
        {owners.data?.items.map((o) => (
          <option key={o.id} value={o.id}>
            {o.email && o.email !== o.name ? `${o.name} (${o.email})` : o.name}
          </option>
        ))}
      </select>
    </div>
  );
}

function TaskRow({ task, showOwner }: { task: Task; showOwner: boolean }) {
  const { t, lang } = useI18n();
  const title = task.display_name || task.job_name || task.master?.filename || t('untitled');
  return (
    <tr>
      <td>
        <div className="job-cell">
          <a className="job-link" href={hrefTask(task.task_id)}>
            {title}
          </a>
          <span className="mono muted small">{task.task_id.slice(0, 8)}</span>
        </div>
      </td>
      <td>
        <div className="status-cell">
          <StatusBadge status={task.status} />
          {task.status === 'RUNNING' && task.progress_info?.progress_percent != null ? (
            <RowProgress percent={task.progress_info.progress_percent} />
          ) : null}
        </div>
      </td>
      {showOwner ? (
        <td className="owner-cell" title={task.owner?.email ?? undefined}>
          {task.owner?.name ?? t('none')}
        </td>
      ) : null}
      <td>{task.submitter || t('none')}</td>
      <td>
        {task.version ?? t('none')} · {task.profile_name ?? t('none')}
      </td>
      <td className="num">{task.thread_count ?? t('none')}</td>
      <td title={formatTime(task.created_at)}>{formatAgo(task.created_at * 1000, lang)}</td>
      <td className="num">
        {task.elapsed_seconds != null ? formatDuration(task.elapsed_seconds) : (task.duration ?? t('none'))}
      </td>
    </tr>
  );
}

/** A running task's percent beside its badge: a slim bar and the number. */
function RowProgress({ percent }: { percent: number }) {
  const { t } = useI18n();
  const rounded = Math.round(percent);
  return (
    <span className="row-progress">
      <span
        className="bar slim"
        role="progressbar"
        aria-label={t('runProgressLabel')}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={rounded}
      >
        <span className="bar-fill" style={{ width: `${rounded}%` }} />
      </span>
      <span className="row-percent">{rounded}%</span>
    </span>
  );
}
