import type { TaskStatus } from '@speos-portal/protocol';
import { TASK_STATUSES } from '@speos-portal/protocol/constants';
import { useI18n } from '../i18n/i18n.js';
import { STATUS_LABELS_ZH } from '../i18n/messages.js';

/**
 * The API's statuses, in the order of a task's life (for the filter). From the protocol's
 * TypeBox-free entry point, so the bundle does not carry the schemas.
 */
export const STATUSES: readonly TaskStatus[] = TASK_STATUSES;

/** Statuses that change on their own: lists showing one refresh by themselves. */
export const ACTIVE_STATUSES: ReadonlySet<TaskStatus> = new Set(['UPLOADING', 'PENDING', 'RUNNING']);

export function statusLabel(status: TaskStatus, lang: string): string {
  return lang === 'zh' ? (STATUS_LABELS_ZH[status] ?? status) : status.charAt(0) + status.slice(1).toLowerCase();
}

/** `past`: a status in the history, not the task's current one (no pulsing dot). */
export function StatusBadge({ status, past = false }: { status: TaskStatus; past?: boolean }) {
  const { lang } = useI18n();
  return (
    <span className={`badge status-${status.toLowerCase()}`} title={status}>
      {ACTIVE_STATUSES.has(status) && !past ? <span className="pulse" aria-hidden="true" /> : null}
      {statusLabel(status, lang)}
    </span>
  );
}
