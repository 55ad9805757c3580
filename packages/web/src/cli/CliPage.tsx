/**
 * "Command-line tool": the download for the visitor's OS (from GET /downloads, which lists the
 * builds this portal has), the others, the first commands, and how to point the tool at this
 * portal with a token.
 */
import { useEffect, useState } from 'react';
import { apiBaseUrl, auth, errorDetail } from '../api.js';
import { formatBytes } from '../format.js';
import { useI18n } from '../i18n/i18n.js';
import type { MessageKey } from '../i18n/messages.js';
import { useObservable } from '../uploads/use-observable.js';
import { type CliDownload, detectOs, firstCommands, pickDownload, type VisitorOs } from './downloads.js';

const OS_NAMES: Record<VisitorOs | 'any', MessageKey> = {
  windows: 'cliOsWindows',
  linux: 'cliOsLinux',
  macos: 'cliOsMacos',
  any: 'cliOsAny',
};

export function CliPage() {
  const { t } = useI18n();
  const { me } = useObservable(auth);
  const [files, setFiles] = useState<CliDownload[]>();
  const [error, setError] = useState<string>();
  const os = detectOs(navigator.userAgent);
  const server = apiBaseUrl();

  useEffect(() => {
    const controller = new AbortController();
    fetch(`${server}/downloads`, { signal: controller.signal })
      .then(async (response) => {
        if (!response.ok) throw new Error(`GET /downloads: HTTP ${response.status}`);
        setFiles(((await response.json()) as { files: CliDownload[] }).files);
      })
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(errorDetail(e));
      });
    return () => controller.abort();
  }, [server]);

  const chosen = files ? pickDownload(files, os) : undefined;
  const others = files?.filter((file) => file !== chosen) ?? [];
  const commands = chosen ? firstCommands(chosen, server, os, me?.oidc === true) : undefined;
  const signedIn = me?.user?.via === 'session';

  return (
    <div className="page cli-page">
      <h1>{t('cliTitle')}</h1>
      <p>{t('cliIntro')}</p>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      {files === undefined && !error ? <p className="muted">{t('loading')}</p> : null}
      {files !== undefined && !chosen ? <p className="notice">{t('cliNoBuilds')}</p> : null}
      {chosen ? (
        <section aria-labelledby="cli-download">
          <h2 id="cli-download">{t('cliDownloadTitle')}</h2>
          <p>
            <a className="button primary" href={`${server}${chosen.url}`} download={chosen.name}>
              {t('cliDownloadFor', { os: t(OS_NAMES[chosen.os === 'any' ? os : chosen.os]) })}
            </a>{' '}
            <span className="muted">
              {chosen.name}, {formatBytes(chosen.size)}
            </span>
          </p>
          {chosen.kind === 'npm' ? <p className="muted">{t('cliNeedsNode')}</p> : null}
          {others.length > 0 ? (
            <>
              <h3>{t('cliOtherDownloads')}</h3>
              <ul className="cli-others">
                {others.map((file) => (
                  <li key={file.name}>
                    <a href={`${server}${file.url}`} download={file.name}>
                      {file.name}
                    </a>{' '}
                    <span className="muted">
                      {t(OS_NAMES[file.os])}, {formatBytes(file.size)}
                    </span>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </section>
      ) : null}
      {commands ? (
        <section aria-labelledby="cli-first">
          <h2 id="cli-first">{t('cliFirstCommands')}</h2>
          <pre className="cli-commands">
            <code>{commands.first.join('\n')}</code>
          </pre>
          <h2>{t('cliServerTitle')}</h2>
          <p>{t('cliServerIntro', { server })}</p>
          <pre className="cli-commands">
            <code>{commands.connect.join('\n')}</code>
          </pre>
          <p>
            {me?.oidc ? t('cliLoginHint') : null}{' '}
            {signedIn ? <a href="#/tokens">{t('cliTokenLink')}</a> : t('cliTokenAsk')}
          </p>
        </section>
      ) : null}
    </div>
  );
}
