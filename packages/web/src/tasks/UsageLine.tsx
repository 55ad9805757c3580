/**
 * The signed-in user's stored bytes against their quota (GET /usage), and for admins (or
 * everyone on a portal without sign-in) the usage of every user (GET /usage/users).
 */
import type { UsageByUserResponse, UsageResponse } from '@speos-portal/protocol';
import { useEffect, useState } from 'react';
import { auth } from '../api.js';
import { formatBytes } from '../format.js';
import { useI18n } from '../i18n/i18n.js';
import { useObservable } from '../uploads/use-observable.js';

export function UsageLine({ refreshKey }: { refreshKey: string }) {
  const { t } = useI18n();
  const { me, generation } = useObservable(auth);
  const [usage, setUsage] = useState<UsageResponse>();
  const [all, setAll] = useState<UsageByUserResponse>();
  // Admins, or anyone when the portal has no sign-in and no tokens (the operator's own portal).
  const seesEveryone = me?.user?.admin === true || me?.auth_required === false;
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload when the task list or the token changes
  useEffect(() => {
    const controller = new AbortController();
    auth
      .client()
      .usage(controller.signal)
      .then(setUsage, () => setUsage(undefined));
    if (seesEveryone) {
      auth
        .client()
        .usageByUser(controller.signal)
        .then(setAll, () => setAll(undefined));
    }
    return () => controller.abort();
  }, [refreshKey, generation, seesEveryone]);
  if (!usage) return null;
  const quota = usage.quota_bytes;
  const percent = quota ? Math.min(100, Math.round((100 * usage.used_bytes) / quota)) : 0;
  return (
    <section className="usage" aria-label={t('usageByUser')}>
      <p className="usage-line" data-testid="usage-line">
        {quota
          ? t('usageLine', { used: formatBytes(usage.used_bytes), quota: formatBytes(quota), percent })
          : t('usageLineNoQuota', { used: formatBytes(usage.used_bytes) })}
        {quota ? <meter min={0} max={quota} value={usage.used_bytes} high={quota * 0.9} optimum={0} /> : null}
      </p>
      {quota && percent >= 90 ? <p className="usage-warning">{t('usageNearFull')}</p> : null}
      {seesEveryone && all && all.users.length > 0 ? (
        <details className="usage-users">
          <summary>{t('usageByUser')}</summary>
          <table>
            <thead>
              <tr>
                <th>{t('usageUser')}</th>
                <th>{t('usageStored')}</th>
              </tr>
            </thead>
            <tbody>
              {all.users.map((u) => (
                <tr key={u.owner ?? ''}>
                  <td title={u.email ?? undefined}>{u.name ?? u.owner ?? '—'}</td>
                  <td>
                    {formatBytes(u.used_bytes)}
                    {all.quota_bytes ? ` (${Math.round((100 * u.used_bytes) / all.quota_bytes)} %)` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ) : null}
    </section>
  );
}
