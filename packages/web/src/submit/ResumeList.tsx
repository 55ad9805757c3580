/**
 * Uploads this browser saved but did not finish (`upload_${task_id}` records): resume with the
 * same file (checked by name, size and date here, by content in the client) or discard
 * (abort on the server, forget the record).
 */
import { matchesFile, PortalApiError, type SavedUpload } from '@speos-portal/client';
import { partCount } from '@speos-portal/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { auth, errorDetail } from '../api.js';
import { formatAgo, formatBytes } from '../format.js';
import { useI18n } from '../i18n/i18n.js';
import { findJobRecordByInclude, loadJobRecord, removeJobRecord } from '../uploads/job-records.js';
import { submissions } from '../uploads/registry.js';
import { Submission } from '../uploads/submission.js';
import { uploadStateStore } from '../uploads/upload-job.js';
import { lockedUploads } from '../uploads/upload-lock.js';
import { useObservable } from '../uploads/use-observable.js';

interface Entry {
  saved: SavedUpload;
  lockedElsewhere: boolean;
}

function useUnfinishedUploads(): [Entry[], () => void] {
  const { items } = useObservable(submissions);
  const [entries, setEntries] = useState<Entry[]>([]);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    void tick;
    let cancelled = false;
    // Tasks this page is uploading are shown as progress, not as something to resume.
    const mine = new Set(items.flatMap((s) => s.jobs.map((j) => j.snapshot.taskId)));
    void Promise.all([uploadStateStore.all(), lockedUploads()]).then(([all, locked]) => {
      if (cancelled) return;
      setEntries(
        all
          .filter((s) => !s.completed && !mine.has(s.task_id))
          .sort((a, b) => b.updated_at - a.updated_at)
          .map((saved) => ({ saved, lockedElsewhere: locked.has(saved.task_id) })),
      );
    });
    return () => {
      cancelled = true;
    };
  }, [items, tick]);
  // Another tab may finish or start one of these: look again now and then.
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), 5000);
    const onStorage = () => setTick((n) => n + 1);
    window.addEventListener('storage', onStorage);
    return () => {
      clearInterval(timer);
      window.removeEventListener('storage', onStorage);
    };
  }, []);
  return [entries, useCallback(() => setTick((n) => n + 1), [])];
}

export function ResumeList() {
  const { t } = useI18n();
  const [entries, refresh] = useUnfinishedUploads();
  if (entries.length === 0) return null;
  return (
    <section className="card resume-list" aria-labelledby="resume-title">
      <h2 id="resume-title">{t('resumeTitle')}</h2>
      <p className="muted">{t('resumeIntro')}</p>
      <ul>
        {entries.map((e) => (
          <ResumeEntry key={e.saved.task_id} entry={e} onGone={refresh} />
        ))}
      </ul>
    </section>
  );
}

function ResumeEntry({ entry, onGone }: { entry: Entry; onGone: () => void }) {
  const { t, lang } = useI18n();
  const { saved, lockedElsewhere } = entry;
  const input = useRef<HTMLInputElement>(null);
  const [problem, setProblem] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const total = partCount(saved.size, saved.chunk_size);

  const onPick = (file: File | undefined) => {
    if (!file) return;
    if (input.current) input.current.value = '';
    const identity = { filename: file.name, size: file.size, lastModified: file.lastModified };
    if (!matchesFile(saved, identity)) {
      setProblem(
        t('fileMismatch', {
          picked: file.name,
          name: saved.filename,
          size: formatBytes(saved.size),
          modified: new Date(saved.lastModified).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en'),
        }),
      );
      return;
    }
    setProblem(undefined);
    submissions.add(Submission.continueSaved(saved, file, auth.client));
  };

  const discard = async () => {
    setBusy(true);
    try {
      await auth.client().abort({ task_id: saved.task_id, upload_id: saved.upload_id, object_key: saved.object_key });
    } catch (error) {
      // Gone already (404) or confirmed elsewhere (409): nothing left to abort; forget it anyway.
      const gone = error instanceof PortalApiError && (error.status === 404 || error.status === 409);
      if (!gone) {
        auth.noticeError(error);
        setProblem(errorDetail(error));
        setBusy(false);
        return;
      }
    }
    await uploadStateStore.remove(saved.task_id);
    if (saved.file_type === 'master') removeJobRecord(saved.task_id);
    setBusy(false);
    onGone();
  };

  // Two interrupted uploads of one file are told apart by the job they were for.
  const record = saved.file_type === 'include' ? findJobRecordByInclude(saved.task_id) : loadJobRecord(saved.task_id);
  const jobName = record?.fields.job_name;

  return (
    <li className="resume-entry" data-task-id={saved.task_id}>
      <div className="resume-text">
        {jobName ? <span className="resume-job">{t('resumeJob', { job: jobName })}</span> : null}
        <span className="resume-line">
          {t('resumeLine', {
            name: saved.filename,
            done: saved.uploaded_parts.length,
            total,
            ago: formatAgo(saved.updated_at, lang),
          })}
        </span>
        <div className="bar slim" aria-hidden="true">
          <div className="bar-fill" style={{ width: `${(saved.uploaded_parts.length / total) * 100}%` }} />
        </div>
        <span className="muted small">
          {formatBytes(saved.size)}
          {saved.file_type === 'include' ? ` · ${t('kindInclude')}` : ''}
          {lockedElsewhere ? ` · ${t('runningElsewhere')}` : ''}
        </span>
        {problem ? (
          <span className="field-error" role="alert">
            {problem}
          </span>
        ) : null}
      </div>
      <input
        ref={input}
        type="file"
        className="visually-hidden"
        tabIndex={-1}
        aria-label={t('resumeFileLabel', { name: saved.filename })}
        onChange={(e) => onPick(e.target.files?.[0])}
      />
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={lockedElsewhere || busy}
          aria-label={t('resumeLabel', { name: saved.filename })}
          onClick={() => input.current?.click()}
        >
          {t('resume')}
        </button>
        <button
          type="button"
          disabled={lockedElsewhere || busy}
          aria-label={t('discardLabel', { name: saved.filename })}
          onClick={() => void discard()}
        >
          {t('discard')}
        </button>
      </div>
    </li>
  );
}
