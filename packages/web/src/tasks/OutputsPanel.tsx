/**
 * The files a run created, with sizes and downloads, and all of them as one zip. Plain links
 * when the server has no auth; with a token each download is fetched with it (see saveDownload).
 */
import type { OutputFile, TaskStatus } from '@speos-portal/protocol';
import { useState } from 'react';
import { apiUrl, auth, errorDetail, saveDownload } from '../api.js';
import { formatBytes } from '../format.js';
import { useI18n } from '../i18n/i18n.js';
import { useObservable } from '../uploads/use-observable.js';
import { usePolling } from './use-polling.js';

/** Statuses after which the worker has collected the outputs. */
export const ENDED_RUN: ReadonlySet<TaskStatus> = new Set(['SUCCESS', 'FAILURE', 'CANCELLED']);

export function OutputsPanel({ taskId, status }: { taskId: string; status: TaskStatus }) {
  const { t } = useI18n();
  const ended = ENDED_RUN.has(status);
  const outputs = usePolling(
    `${taskId}:${status}`,
    (signal) =>
      ended
        ? auth.client().getOutputs(taskId, signal)
        : Promise.resolve({ task_id: taskId, files: [], download_url: null, download_name: null }),
    () => false,
  );
  const [error, setError] = useState<string | undefined>();
  const files = outputs.data?.files ?? [];
  const total = files.reduce((sum, f) => sum + f.size, 0);
  const zip = outputs.data?.download_url;
  const zipName = outputs.data?.download_name ?? 'outputs.zip';

  const downloadAll = async () => {
    if (!zip) return;
    setError(undefined);
    try {
      await saveDownload(zip, zipName);
    } catch (e) {
      setError(errorDetail(e));
    }
  };

  return (
    <section className="card outputs-card span-2" aria-labelledby="outputs-title">
      <div className="card-head">
        <h2 id="outputs-title">{t('sectionOutputs')}</h2>
        {ended && files.length > 0 ? (
          <span className="muted small">
            {t(files.length === 1 ? 'outputsSummaryOne' : 'outputsSummary', {
              count: files.length,
              size: formatBytes(total),
            })}
          </span>
        ) : null}
        {zip && files.length > 0 ? (
          <span className="card-head-end zip-action">
            <span className="muted small mono zip-name" title={zipName}>
              {zipName}
            </span>
            <button type="button" className="primary" onClick={() => void downloadAll()}>
              <span aria-hidden="true">↓</span>
              {t('downloadAll')}
            </button>
          </span>
        ) : null}
      </div>
      {outputs.error ? (
        <p className="notice error small" role="alert">
          {t('outputsError', { detail: outputs.error })}
        </p>
      ) : null}
      {error ? (
        <p className="notice error small" role="alert">
          {error}
        </p>
      ) : null}
      {!ended ? <p className="muted">{t('outputsLater')}</p> : null}
      {ended && outputs.data && files.length === 0 ? <p className="muted">{t('outputsNone')}</p> : null}
      {files.length > 0 ? (
        <table className="outputs-table">
          <thead>
            <tr>
              <th scope="col" className="out-cell out-head">
                {t('colFile')}
              </th>
              <th scope="col" className="out-cell out-head out-size">
                {t('colSize')}
              </th>
              <th scope="col" className="out-cell out-head">
                <span className="visually-hidden">{t('download')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {files.map((file) => (
              <OutputRow key={file.name} file={file} onError={setError} />
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function OutputRow({ file, onError }: { file: OutputFile; onError(message: string | undefined): void }) {
  const { t } = useI18n();
  const { token } = useObservable(auth);
  const slash = file.name.lastIndexOf('/');
  const dir = file.name.slice(0, slash + 1);
  const base = file.name.slice(slash + 1);
  const label = t('downloadFile', { name: file.name });
  const download = async () => {
    onError(undefined);
    try {
      await saveDownload(file.url, base);
    } catch (e) {
      onError(errorDetail(e));
    }
  };
  return (
    <tr className="out-row">
      <td className="out-cell output-name" title={file.name}>
        {dir ? <span className="muted">{dir}</span> : null}
        {base}
      </td>
      <td className="out-cell out-size mono">{formatBytes(file.size)}</td>
      <td className="out-cell out-action">
        {token ? (
          <button type="button" className="small" aria-label={label} onClick={() => void download()}>
            {t('download')}
          </button>
        ) : (
          <a className="button small" href={apiUrl(file.url)} download={base} aria-label={label}>
            {t('download')}
          </a>
        )}
      </td>
    </tr>
  );
}
