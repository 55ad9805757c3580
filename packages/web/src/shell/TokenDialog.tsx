/** Asks for the bearer token once (after a 401), keeps it in localStorage via `auth`. */
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { auth } from '../api.js';
import { useI18n } from '../i18n/i18n.js';
import { useObservable } from '../uploads/use-observable.js';
import { LanguageSwitch } from './LanguageSwitch.js';

export function TokenDialog() {
  const { t } = useI18n();
  const { asking, token, refused } = useObservable(auth);
  const dialog = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const [value, setValue] = useState(token ?? '');

  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (asking && !element.open) {
      setValue(auth.snapshot.token ?? '');
      element.showModal();
      input.current?.focus();
    } else if (!asking && element.open) element.close();
  }, [asking]);

  const save = (event: FormEvent) => {
    event.preventDefault();
    auth.setToken(value);
  };

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby="token-title" onClose={() => auth.dismiss()}>
      <form onSubmit={save}>
        <div className="dialog-head">
          <h2 id="token-title">{t('tokenTitle')}</h2>
          {/* The page behind a modal dialog is inert: the language switch must be here too. */}
          <LanguageSwitch />
        </div>
        {refused ? (
          // In the dialog itself: the page behind a modal is dimmed and its notices unreadable.
          <p className="notice error token-refused" role="alert">
            {t('tokenRefused')}
          </p>
        ) : null}
        <p className="muted">{t('tokenIntro')}</p>
        <label className="field">
          <span className="field-label">{t('tokenLabel')}</span>
          <input
            ref={input}
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            required
          />
        </label>
        <div className="actions">
          <button type="submit" className="primary">
            {t('tokenSave')}
          </button>
          {token ? (
            <button type="button" onClick={() => auth.setToken(undefined)}>
              {t('tokenClear')}
            </button>
          ) : null}
          <button type="button" onClick={() => auth.dismiss()}>
            {t('close')}
          </button>
        </div>
      </form>
    </dialog>
  );
}
