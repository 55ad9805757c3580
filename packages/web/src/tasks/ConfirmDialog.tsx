/**
 * "Are you sure?" as a modal <dialog>: the page behind is inert (focus stays inside), Escape
 * or Cancel closes it, and focus goes back to the button that opened it. Cancel has the
 * focus first, so an Enter pressed out of habit does nothing harmful.
 */
import { type ReactNode, useEffect, useId, useRef } from 'react';
import { useI18n } from '../i18n/i18n.js';

export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  danger = false,
  busy = false,
  error,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  error?: string | undefined;
  onConfirm(): void;
  onClose(): void;
}) {
  const { t } = useI18n();
  const ids = useId();
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const opener = useRef<HTMLElement | null>(null);

  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) {
      opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      element.showModal();
      cancel.current?.focus();
    } else if (!open && element.open) element.close();
  }, [open]);

  const closed = () => {
    onClose();
    // After a navigation (retry, delete) the opener is gone; focus then stays where the page puts it.
    if (opener.current?.isConnected) opener.current.focus();
    opener.current = null;
  };

  return (
    <dialog
      ref={dialog}
      className="dialog confirm"
      role="alertdialog"
      aria-labelledby={`${ids}-title`}
      aria-describedby={`${ids}-body`}
      aria-busy={busy}
      onCancel={(e) => {
        if (busy) e.preventDefault();
      }}
      onClose={closed}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy) onConfirm();
        }}
      >
        <h2 id={`${ids}-title`}>{title}</h2>
        <div id={`${ids}-body`} className="confirm-body">
          {children}
        </div>
        {error ? (
          <p className="notice error" role="alert">
            {error}
          </p>
        ) : null}
        <div className="actions end">
          <button ref={cancel} type="button" disabled={busy} onClick={() => dialog.current?.close()}>
            {t('cancel')}
          </button>
          <button type="submit" className={danger ? 'primary danger-fill' : 'primary'} disabled={busy}>
            {busy ? t('working') : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
