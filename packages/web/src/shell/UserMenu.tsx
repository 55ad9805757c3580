/** Who is signed in (name, admin) and Sign out, when the portal has company sign-in. */
import { useState } from 'react';
import { auth, errorDetail } from '../api.js';
import { useI18n } from '../i18n/i18n.js';
import { useObservable } from '../uploads/use-observable.js';

export function UserMenu() {
  const { t } = useI18n();
  const { me } = useObservable(auth);
  const [error, setError] = useState<string>();
  const user = me?.user;
  if (!user || user.via === 'auth_token') return null;
  const signOut = async () => {
    try {
      await auth.signOut();
    } catch (e) {
      setError(errorDetail(e));
    }
  };
  return (
    <div className="user-menu">
      <span className="user-name" title={user.email ?? undefined}>
        {user.name}
        {user.admin ? <span className="admin-badge">{t('adminBadge')}</span> : null}
      </span>
      {user.via === 'session' ? (
        <button type="button" className="quiet" onClick={signOut} title={error}>
          {t('signOut')}
        </button>
      ) : null}
    </div>
  );
}
