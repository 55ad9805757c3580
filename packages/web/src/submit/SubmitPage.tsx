/** The home screen: unfinished uploads to resume, uploads in progress, and the job form. */
import type { UploadConfigResponse } from '@speos-portal/protocol';
import { useEffect, useState } from 'react';
import { auth, errorDetail } from '../api.js';
import { useI18n } from '../i18n/i18n.js';
import { storageWorks } from '../prefs.js';
import { useObservable } from '../uploads/use-observable.js';
import { ResumeList } from './ResumeList.js';
import { SubmitForm } from './SubmitForm.js';
import { UploadsPanel } from './UploadsPanel.js';

type ConfigState =
  | { status: 'loading' }
  | { status: 'ready'; config: UploadConfigResponse }
  | { status: 'failed'; detail: string; needsToken: boolean };

/** GET /tasks/upload/config, again whenever the token changes or the person retries. */
function useUploadConfig(): [ConfigState, () => void] {
  const { generation } = useObservable(auth);
  const [attempt, setAttempt] = useState(0);
  const [state, setState] = useState<ConfigState>({ status: 'loading' });
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload when the token changes or on retry
  useEffect(() => {
    const controller = new AbortController();
    auth
      .client()
      .config(controller.signal)
      .then((config) => {
        setState({ status: 'ready', config });
        if (config.auth_required && !auth.snapshot.token) auth.ask();
      })
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        setState({ status: 'failed', detail: errorDetail(error), needsToken: auth.noticeError(error) });
      });
    return () => controller.abort();
  }, [generation, attempt]);
  return [state, () => setAttempt((a) => a + 1)];
}

export function SubmitPage() {
  const { t } = useI18n();
  const [config, retry] = useUploadConfig();
  const [canResume] = useState(storageWorks);
  return (
    <div className="page submit-page">
      {!canResume ? (
        <p className="notice warn" role="status">
          {t('resumeOff')}
        </p>
      ) : null}
      <ResumeList />
      <UploadsPanel />
      {config.status === 'loading' ? <p className="muted">{t('configLoading')}</p> : null}
      {config.status === 'failed' && config.needsToken ? (
        <div className="notice info">
          {t('tokenIntro')}{' '}
          <button type="button" onClick={() => auth.ask()}>
            {t('tokenLabel')}
          </button>
        </div>
      ) : null}
      {config.status === 'failed' && !config.needsToken ? (
        <div className="notice error" role="alert">
          {t('configFailed', { detail: config.detail })}{' '}
          <button type="button" onClick={retry}>
            {t('retry')}
          </button>
        </div>
      ) : null}
      {config.status === 'ready' ? <SubmitForm config={config.config} /> : null}
    </div>
  );
}
