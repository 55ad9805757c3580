/** Personal API tokens: create one (shown once), list them with their use, revoke. */
import type { ApiToken, CreatedToken } from '@speos-portal/protocol';
import { type FormEvent, useId, useState } from 'react';
import { auth, errorDetail } from '../api.js';
import { formatAgo, formatTime } from '../format.js';
import { useI18n } from '../i18n/i18n.js';
import { ConfirmDialog } from '../tasks/ConfirmDialog.js';
import { usePolling } from '../tasks/use-polling.js';
import { useObservable } from '../uploads/use-observable.js';

const EXPIRY_DAYS = [7, 30, 90, 365];

export function TokensPage() {
  const { t, lang } = useI18n();
  const ids = useId();
  const { me } = useObservable(auth);
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<CreatedToken>();
  const [copied, setCopied] = useState(false);
  const [revoking, setRevoking] = useState<ApiToken>();
  const [revokeError, setRevokeError] = useState<string>();
  const list = usePolling(
    'tokens',
    (signal) => auth.client().listApiTokens(signal),
    () => false,
  );

  if (me?.user?.via !== 'session') {
    return (
      <div className="page">
        <h1>{t('tokensTitle')}</h1>
        <p className="notice">{t('tokensNeedSignIn')}</p>
      </div>
    );
  }

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const token = await auth.client().createApiToken({
        name: name.trim(),
        ...(days ? { expires_in_days: Number(days) } : {}),
      });
      setCreated(token);
      setCopied(false);
      setName('');
      list.reload();
    } catch (e) {
      auth.noticeError(e);
      setError(errorDetail(e));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async () => {
    if (!revoking) return;
    setBusy(true);
    setRevokeError(undefined);
    try {
      await auth.client().revokeApiToken(revoking.token_id);
      if (created?.token_id === revoking.token_id) setCreated(undefined);
      setRevoking(undefined);
      list.reload();
    } catch (e) {
      auth.noticeError(e);
      setRevokeError(errorDetail(e));
    } finally {
      setBusy(false);
    }
  };

  const copy = async () => {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied(true);
    } catch {
      // Without clipboard access the token stays selectable in the box.
    }
  };

  return (
    <div className="page tokens-page">
      <div className="page-head">
        <h1>{t('tokensTitle')}</h1>
      </div>
      <p className="muted">{t('tokensIntro')}</p>
      <form className="card token-form" onSubmit={create}>
        <div className="field grow">
          <label className="field-label" htmlFor={`${ids}-name`}>
            {t('tokenName')}
          </label>
          <input
            id={`${ids}-name`}
            type="text"
            value={name}
            maxLength={100}
            required
            onChange={(e) => setName(e.target.value)}
            aria-describedby={`${ids}-name-hint`}
          />
          <span id={`${ids}-name-hint`} className="field-hint">
            {t('tokenNameHint')}
          </span>
        </div>
        <div className="field">
          <label className="field-label" htmlFor={`${ids}-expiry`}>
            {t('tokenExpiry')}
          </label>
          <select id={`${ids}-expiry`} value={days} onChange={(e) => setDays(e.target.value)}>
            {EXPIRY_DAYS.map((d) => (
              <option key={d} value={String(d)}>
                {t('tokenDays', { days: d })}
              </option>
            ))}
            <option value="">{t('tokenNever')}</option>
          </select>
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || !name.trim()}>
            {t('tokenCreate')}
          </button>
        </div>
        {error ? (
          <p className="notice error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
      {created ? (
        <section className="card token-created" aria-labelledby={`${ids}-created`}>
          <h2 id={`${ids}-created`}>{t('tokenCreatedTitle')}</h2>
          <p className="muted">{t('tokenCreatedHint')}</p>
          <div className="token-secret">
            <input
              type="text"
              className="mono"
              readOnly
              value={created.token}
              aria-label={t('tokenCreatedTitle')}
              onFocus={(e) => e.target.select()}
            />
            <button type="button" onClick={copy}>
              {copied ? t('tokenCopied') : t('tokenCopy')}
            </button>
          </div>
        </section>
      ) : null}
      {list.error ? (
        <p className="notice error" role="alert">
          {list.error}
        </p>
      ) : null}
      <div className="table-wrap card flush">
        <table className="tasks-table tokens-table" aria-busy={list.loading}>
          <thead>
            <tr>
              <th scope="col">{t('colTokenName')}</th>
              <th scope="col">{t('colTokenHint')}</th>
              <th scope="col">{t('colTokenCreated')}</th>
              <th scope="col">{t('colTokenUsed')}</th>
              <th scope="col">{t('colTokenExpires')}</th>
              <th scope="col">
                <span className="visually-hidden">{t('actionsLabel')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((token) => (
              <tr key={token.token_id}>
                <td>{token.name}</td>
                <td className="mono small">{token.hint}</td>
                <td title={formatTime(token.created_at)}>{formatAgo(token.created_at * 1000, lang)}</td>
                <td>
                  {token.last_used_at === null ? t('tokenNeverUsed') : formatAgo(token.last_used_at * 1000, lang)}
                </td>
                <td>{token.expires_at === null ? t('tokenNever') : formatTime(token.expires_at)}</td>
                <td>
                  <button
                    type="button"
                    className="danger"
                    onClick={() => setRevoking(token)}
                    aria-label={`${t('tokenRevoke')} ${token.name}`}
                  >
                    {t('tokenRevoke')}
                  </button>
                </td>
              </tr>
            ))}
            {list.data && list.data.items.length === 0 ? (
              <tr>
                <td colSpan={6} className="empty">
                  {t('tokenListEmpty')}
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <ConfirmDialog
        open={revoking !== undefined}
        title={t('confirmRevokeTitle')}
        confirmLabel={t('tokenRevoke')}
        danger
        busy={busy}
        error={revokeError}
        onConfirm={revoke}
        onClose={() => {
          setRevoking(undefined);
          setRevokeError(undefined);
        }}
      >
        <p>
          <strong>{revoking?.name}</strong> ({revoking?.hint})
        </p>
        <p>{t('confirmRevokeBody')}</p>
      </ConfirmDialog>
    </div>
  );
}
