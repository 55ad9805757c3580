/**
 * A file input with a drop zone. The real <input type="file"> keeps the label as its accessible
 * name ("Master file") and stays keyboard-reachable; it is only visually hidden, and the zone
 * shows its focus ring.
 */
import { useId, useRef, useState } from 'react';
import { formatBytes } from '../format.js';
import { useI18n } from '../i18n/i18n.js';

interface FileDropProps {
  label: string;
  hint: string;
  file: File | undefined;
  onChange(file: File | undefined): void;
  error?: string | undefined;
  accept?: string;
  /** Name the input for tests and autofill; optional. */
  name?: string;
}

export function FileDrop({ label, hint, file, onChange, error, accept, name }: FileDropProps) {
  const { t } = useI18n();
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;

  const clear = () => {
    if (input.current) input.current.value = '';
    onChange(undefined);
    input.current?.focus();
  };

  return (
    <div className={`field file-field${error ? ' has-error' : ''}`}>
      <label className="field-label" htmlFor={id}>
        {label}
      </label>
      <div className={`dropzone${dragging ? ' dragging' : ''}${file ? ' has-file' : ''}`}>
        <input
          ref={input}
          id={id}
          name={name}
          type="file"
          className="file-input"
          accept={accept}
          aria-describedby={[hintId, error ? errorId : ''].filter(Boolean).join(' ')}
          aria-invalid={error ? true : undefined}
          onChange={(e) => onChange(e.target.files?.[0])}
          // The input covers the zone, so a dropped file lands on it and the browser fills it in.
          onDragEnter={() => setDragging(true)}
          onDragLeave={() => setDragging(false)}
          onDrop={() => setDragging(false)}
        />
        {file ? (
          <div className="chosen-file">
            <span className="file-icon" aria-hidden="true" />
            <span className="file-name" title={file.name}>
              {file.name}
            </span>
            <span className="file-size">{formatBytes(file.size)}</span>
          </div>
        ) : (
          <div className="dropzone-text" aria-hidden="true">
            {t('dropHere')}
          </div>
        )}
      </div>
      {file ? (
        <button type="button" className="link remove-file" onClick={clear}>
          {t('removeFile', { name: file.name })}
        </button>
      ) : null}
      <div className="field-hint" id={hintId}>
        {hint}
      </div>
      {error ? (
        <div className="field-error" id={errorId}>
          {error}
        </div>
      ) : null}
    </div>
  );
}
