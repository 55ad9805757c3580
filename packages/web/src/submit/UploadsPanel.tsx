import { useSyncExternalStore } from 'react';
/** Uploads of this page: one card per submitted job, one progress row per file. */
import { formatBytes, formatDuration, formatSpeed } from '../format.js';
import { type Translate, useI18n } from '../i18n/i18n.js';
import type { MessageKey } from '../i18n/messages.js';
import { hrefTask } from '../shell/router.js';
import { submissions } from '../uploads/registry.js';
import type { Submission } from '../uploads/submission.js';
import type { FailureKind, JobFailure, JobPhase, JobSnapshot, UploadJob } from '../uploads/upload-job.js';
import { useObservable } from '../uploads/use-observable.js';

export function UploadsPanel() {
  const { t } = useI18n();
  const { items } = useObservable(submissions);
  if (items.length === 0) return null;
  return (
    <section className="uploads" aria-labelledby="uploads-title">
      <h2 id="uploads-title">{t('uploadsTitle')}</h2>
      {items.map((s) => (
        <SubmissionCard key={s.id} submission={s} />
      ))}
    </section>
  );
}

const PHASE_LABEL: Record<JobPhase, MessageKey> = {
  starting: 'statusStarting',
  checking: 'statusChecking',
  uploading: 'statusUploading',
  paused: 'statusPaused',
  uploaded: 'statusUploaded',
  failed: 'statusFailed',
  cancelling: 'cancelling',
  cancelled: 'statusCancelled',
};

const HOPELESS: ReadonlySet<FailureKind> = new Set(['fileChanged', 'noSuchUpload', 'locked']);

function SubmissionCard({ submission }: { submission: Submission }) {
  const { t } = useI18n();
  const state = useObservable(submission);
  const failures = submission.jobs.map((j) => j.snapshot.failure).filter((f) => f !== undefined);
  // Trying again cannot help when the file is the wrong one, the upload is gone or another tab has it;
  // dismissing keeps the saved upload, so it shows again under "Unfinished uploads".
  const hopeless = failures.some((f) => HOPELESS.has(f.kind));
  const finished =
    state.phase === 'submitted' || state.phase === 'cancelled' || state.phase === 'uploadedOnly' || hopeless;
  const canCancel = state.phase !== 'submitted' && state.phase !== 'cancelled' && state.phase !== 'confirming';
  const anyFailed = failures.length > 0;
  return (
    <article className={`card upload-card phase-${state.phase}`} data-phase={state.phase} aria-live="polite">
      {submission.jobs.map((job) => (
        <JobRow key={job.snapshot.fileType} job={job} submission={submission} />
      ))}
      <div className="upload-card-footer">
        <SubmissionStatus submission={submission} />
        <div className="actions">
          {state.phase === 'failed' && !hopeless && (anyFailed || state.failure) ? (
            <button
              type="button"
              className="primary"
              onClick={() => (state.failure && !anyFailed ? submission.retryConfirm() : submission.resume())}
            >
              {t('retryUpload')}
            </button>
          ) : null}
          {canCancel ? (
            <button type="button" className="danger" onClick={() => void submission.cancel()}>
              {t('cancel')}
            </button>
          ) : null}
          {finished ? (
            <button type="button" className="quiet" onClick={() => submissions.remove(submission)}>
              {t('dismiss')}
            </button>
          ) : null}
        </div>
      </div>
    </article>
  );
}

function SubmissionStatus({ submission }: { submission: Submission }) {
  const { t } = useI18n();
  const state = useObservable(submission);
  switch (state.phase) {
    case 'confirming':
      return state.waitingReason ? (
        <p className="status-line warn" role="status">
          {t('confirmWaitingServer', { reason: reasonText(state.waitingReason, t) })}
        </p>
      ) : (
        <p className="status-line">{t('statusConfirming')}</p>
      );
    case 'submitted':
      return (
        <p className="status-line success" role="status">
          <span className="check" aria-hidden="true">
            ✓
          </span>{' '}
          {t('submitted', { id: state.taskId ?? '' })} · <a href={hrefTask(state.taskId ?? '')}>{t('openTask')}</a>
        </p>
      );
    case 'waiting':
      return <p className="status-line">{t('waitingForOther')}</p>;
    case 'uploadedOnly':
      return <p className="status-line">{t('noJobSaved', { id: state.taskId ?? '' })}</p>;
    case 'failed':
      return state.failure ? (
        <p className="status-line error" role="alert">
          {state.failure.kind === 'auth' ? t('failAuth') : t('failConfirm', { detail: state.failure.detail })}
        </p>
      ) : null;
    default:
      return null;
  }
}

/** `navigator.onLine`, live: the page says "offline" at once, before a request times out. */
function useOnline(): boolean {
  return useSyncExternalStore(
    (onChange) => {
      window.addEventListener('online', onChange);
      window.addEventListener('offline', onChange);
      return () => {
        window.removeEventListener('online', onChange);
        window.removeEventListener('offline', onChange);
      };
    },
    () => navigator.onLine,
  );
}

function JobRow({ job, submission }: { job: UploadJob; submission: Submission }) {
  const { t } = useI18n();
  const s = useObservable(job);
  const online = useOnline();
  const trouble = online ? s.trouble : 'offline';
  const p = s.progress;
  const uploaded = p?.uploadedBytes ?? (s.phase === 'uploaded' ? s.size : 0);
  const fraction = s.size === 0 ? 1 : Math.min(1, uploaded / s.size);
  const percent = Math.floor(fraction * 1000) / 10;
  const active = s.phase === 'uploading' || s.phase === 'checking' || s.phase === 'starting';
  return (
    <div className={`job-row job-${s.phase}`} data-file-type={s.fileType}>
      <div className="job-head">
        <span className="job-file" title={s.fileName}>
          {s.fileName}
          {s.fileType === 'include' ? <span className="tag">{t('kindInclude')}</span> : null}
        </span>
        <span className="job-phase">{t(PHASE_LABEL[s.phase])}</span>
        <span className="job-percent">{percent.toFixed(1)}%</span>
      </div>
      <div
        className="bar"
        role="progressbar"
        aria-label={t('progressLabel', { name: s.fileName })}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
      >
        <div className="bar-fill" style={{ width: `${fraction * 100}%` }} />
      </div>
      <div className="job-meta">
        {s.phase === 'paused' && p ? (
          // Bytes of parts cut off by the pause are sent again; say what the server keeps.
          <span>{t('storedOf', { done: formatBytes(p.confirmedBytes), total: formatBytes(s.size) })}</span>
        ) : (
          <span>{t('bytesOf', { done: formatBytes(uploaded), total: formatBytes(s.size) })}</span>
        )}
        {active && !trouble && p && p.speed > 0 ? <span>{formatSpeed(p.speed)}</span> : null}
        {active && !trouble && p?.etaSeconds !== undefined && p.speed > 0 ? (
          <span>{t('eta', { time: formatDuration(p.etaSeconds) })}</span>
        ) : null}
        {s.taskId ? <span className="mono muted">task {s.taskId.slice(0, 8)}</span> : null}
        <span className="spacer" />
        {active ? (
          <button type="button" className="small" onClick={() => job.pause()}>
            {t('pause')}
          </button>
        ) : null}
        {s.phase === 'paused' ? (
          <button type="button" className="small primary" onClick={() => submission.resume(job)}>
            {t('resume')}
          </button>
        ) : null}
      </div>
      {!s.resumeEnabled && active ? <p className="job-note warn">{t('resumeOff')}</p> : null}
      {trouble && active ? (
        <p className="job-note warn" role="status" data-trouble={trouble}>
          {troubleText(trouble, s.troubleReason, t)}
        </p>
      ) : null}
      {s.failure ? (
        <p className="job-note error" role="alert">
          {failureText(s.failure, t)}
        </p>
      ) : null}
    </div>
  );
}

/** Why a server or store is waited for: its status or socket error, else "no answer" in the page's language. */
function reasonText(reason: string | undefined, t: Translate): string {
  return !reason || reason === 'no answer' ? t('noAnswer') : reason;
}

function troubleText(trouble: NonNullable<JobSnapshot['trouble']>, reason: string | undefined, t: Translate): string {
  switch (trouble) {
    case 'offline':
      return t('troubleOffline');
    case 'waitingServer':
      return t('troubleWaitingServer', { reason: reasonText(reason, t) });
    case 'waitingStorage':
      return t('troubleWaitingStorage', { reason: reasonText(reason, t) });
    default:
      return t('troubleRetrying');
  }
}

export function failureText(failure: JobFailure, t: Translate): string {
  switch (failure.kind) {
    case 'noSuchUpload':
      return t('failNoSuchUpload');
    case 'fileChanged':
      return `${t('failFileChanged')} (${failure.detail})`;
    case 'auth':
      return t('failAuth');
    case 'locked':
      return t('lockedElsewhere');
    case 'rejected':
      return t('failRejected', { detail: failure.detail });
    default:
      return t('failRequest', { detail: failure.detail.replace(/\.$/, '') });
  }
}
