/** "E-mail me when my tasks start and end", for signed-in people; the e-mails use the UI's language. */
import type { NotificationSettingsResponse } from '@speos-portal/protocol';
import { useEffect, useId, useState } from 'react';
import { auth, errorDetail } from '../api.js';
import { useI18n } from '../i18n/i18n.js';
import { useObservable } from '../uploads/use-observable.js';

export function EmailSetting() {
  const { t, lang } = useI18n();
  const id = useId();
  const { me, generation } = useObservable(auth);
  const [settings, setSettings] = useState<NotificationSettingsResponse>();
  const [problem, setProblem] = useState<string>();
  const signedIn = !!me?.user;
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload when the person (token) changes
  useEffect(() => {
    if (!signedIn) return;
    const controller = new AbortController();
    auth
      .client()
      .notificationSettings(controller.signal)
      .then(setSettings, () => setSettings(undefined));
    return () => controller.abort();
  }, [signedIn, generation]);
  if (!signedIn || !settings) return null;
  if (!settings.email_available) return <p className="muted small">{t('emailNotifyUnavailable')}</p>;
  const change = async (enabled: boolean) => {
    setProblem(undefined);
    try {
      setSettings(await auth.client().setNotificationSettings({ email_enabled: enabled, language: lang }));
    } catch (error) {
      setProblem(errorDetail(error));
    }
  };
  return (
    <p className="email-setting small">
      <input id={id} type="checkbox" checked={settings.email_enabled} onChange={(e) => void change(e.target.checked)} />{' '}
      <label htmlFor={id} title={settings.email ?? undefined}>
        {t('emailNotify')}
      </label>
      {problem ? <span className="error small"> {problem}</span> : null}
    </p>
  );
}
