import { useEffect, useRef } from 'react';
import { DevicePage } from '../account/DevicePage.js';
import { TokensPage } from '../account/TokensPage.js';
import { auth } from '../api.js';
import { CliPage } from '../cli/CliPage.js';
import { useI18n } from '../i18n/i18n.js';
import { SubmitPage } from '../submit/SubmitPage.js';
import { TaskListPage } from '../tasks/TaskListPage.js';
import { TaskPage } from '../tasks/TaskPage.js';
import { watcher } from '../tasks/watch.js';
import { useObservable } from '../uploads/use-observable.js';
import { LanguageSwitch } from './LanguageSwitch.js';
import { useRoute } from './router.js';
import { TokenDialog } from './TokenDialog.js';
import { UserMenu } from './UserMenu.js';

export function App() {
  const { t } = useI18n();
  const route = useRoute();
  const { token, me, redirecting } = useObservable(auth);
  const current = route.page === 'task' ? 'tasks' : route.page;
  useEffect(() => {
    void auth.load();
  }, []);
  // Browser notifications for watched tasks, while this page is open (tasks/watch.ts).
  const { lang } = useI18n();
  const langRef = useRef(lang);
  langRef.current = lang;
  useEffect(
    () =>
      watcher.start(
        async (taskId) => {
          const task = await auth.client().getTask(taskId);
          return { status: task.status, name: task.display_name || task.job_name || taskId };
        },
        () => langRef.current,
      ),
    [],
  );
  // With company sign-in, nothing shows until the person is known (or is on the way to sign in).
  const waiting = me === undefined || redirecting || (me.oidc && !me.user);
  return (
    <>
      <a className="skip-link" href="#main">
        {t('appName')}
      </a>
      <header className="topbar">
        <a className="brand" href="#/submit">
          <span className="brand-mark" aria-hidden="true" />
          <span className="brand-text">{t('appName')}</span>
        </a>
        <nav aria-label={t('appName')}>
          <a href="#/submit" aria-current={current === 'submit' ? 'page' : undefined}>
            {t('navSubmit')}
          </a>
          <a href="#/tasks" aria-current={current === 'tasks' ? 'page' : undefined}>
            {t('navTasks')}
          </a>
          {me?.user?.via === 'session' ? (
            <a href="#/tokens" aria-current={current === 'tokens' ? 'page' : undefined}>
              {t('navTokens')}
            </a>
          ) : null}
          <a href="#/cli" aria-current={current === 'cli' ? 'page' : undefined} aria-label={t('navCli')}>
            {/* A phone's top bar has room for the short name only (styles.css, max-width 460px). */}
            <span className="nav-long">{t('navCli')}</span>
            <span className="nav-short">{t('navCliShort')}</span>
          </a>
        </nav>
        <div className="topbar-end">
          {token ? (
            <button type="button" className="quiet" onClick={() => auth.ask()}>
              {t('tokenButton')}
            </button>
          ) : null}
          <UserMenu />
          <LanguageSwitch />
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {waiting ? (
          <p className="page muted" role="status">
            {me?.oidc ? t('signingIn') : t('loading')}
          </p>
        ) : (
          <>
            {route.page === 'submit' ? <SubmitPage /> : null}
            {route.page === 'tasks' ? <TaskListPage /> : null}
            {route.page === 'task' ? <TaskPage key={route.taskId} taskId={route.taskId} /> : null}
            {route.page === 'tokens' ? <TokensPage /> : null}
            {route.page === 'device' ? <DevicePage key={route.code} code={route.code} /> : null}
            {route.page === 'cli' ? <CliPage /> : null}
          </>
        )}
      </main>
      <TokenDialog />
    </>
  );
}
