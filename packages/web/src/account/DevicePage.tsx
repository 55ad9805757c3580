/**
 * Approves (or denies) a `speos-portal login`: the person checks that the code matches the
 * one in their terminal; the CLI's next poll then receives a new API token of theirs.
 */
import type { DeviceInfo } from '@speos-portal/protocol';
import { type FormEvent, useEffect, useId, useState } from 'react';
import { auth, errorDetail } from '../api.js';
import { useI18n } from '../i18n/i18n.js';

type State =
  | { step: 'enter' }
  | { step: 'checking' }
  | { step: 'ask'; info: DeviceInfo }
  | { step: 'done'; approved: boolean };

export function DevicePage({ code: initial }: { code: string }) {
  const { t } = useI18n();
  const ids = useId();
  const [code, setCode] = useState(initial);
  const [state, setState] = useState<State>({ step: 'enter' });
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const check = async (value: string) => {
    setState({ step: 'checking' });
    setError(undefined);
    try {
      setState({ step: 'ask', info: await auth.client().describeDeviceLogin(value.trim()) });
    } catch (e) {
      auth.noticeError(e);
      setError(errorDetail(e));
      setState({ step: 'enter' });
    }
  };

  // biome-ignore lint/correctness/useExhaustiveDependencies: only the code from the address is checked by itself
  useEffect(() => {
    if (initial) void check(initial);
  }, [initial]);

  const decide = async (approve: boolean) => {
    if (state.step !== 'ask') return;
    setBusy(true);
    setError(undefined);
    try {
      await auth.client().decideDeviceLogin(state.info.user_code, approve);
      setState({ step: 'done', approved: approve });
    } catch (e) {
      auth.noticeError(e);
      setError(errorDetail(e));
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void check(code);
  };

  return (
    <div className="page device-page">
      <h1>{t('deviceTitle')}</h1>
      <div className="card">
        {state.step === 'enter' || state.step === 'checking' ? (
          <form onSubmit={submit}>
            <p className="muted">{t('deviceIntro')}</p>
            <div className="field">
              <label className="field-label" htmlFor={`${ids}-code`}>
                {t('deviceCodeLabel')}
              </label>
              <input
                id={`${ids}-code`}
                className="mono device-code-input"
                value={code}
                autoComplete="off"
                spellCheck={false}
                required
                onChange={(e) => setCode(e.target.value)}
              />
            </div>
            <div className="actions">
              <button type="submit" className="primary" disabled={state.step === 'checking'}>
                {t('deviceCheck')}
              </button>
            </div>
          </form>
        ) : null}
        {state.step === 'ask' ? (
          <>
            <p className="muted small">{t('deviceCodeLabel')}</p>
            <p className="device-code mono">{state.info.user_code}</p>
            <p>{t('deviceAsking', { client: state.info.client_name })}</p>
            <p className="muted">{t('deviceIntro')}</p>
            <div className="actions">
              <button type="button" className="primary" disabled={busy} onClick={() => decide(true)}>
                {t('deviceApprove')}
              </button>
              <button type="button" disabled={busy} onClick={() => decide(false)}>
                {t('deviceDeny')}
              </button>
            </div>
          </>
        ) : null}
        {state.step === 'done' ? (
          <p className="notice" role="status">
            {state.approved ? t('deviceApproved') : t('deviceDenied')}
          </p>
        ) : null}
        {error ? (
          <p className="notice error" role="alert">
            {error}
          </p>
        ) : null}
      </div>
    </div>
  );
}
