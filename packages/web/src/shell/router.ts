/**
 * Hash routes (`#/submit`, `#/tasks`, `#/tasks/<id>`): real paths like `/tasks/…` are API routes
 * on the same server, so the UI must not own them.
 */
import { useEffect, useState } from 'react';

export type Route =
  | { page: 'submit' }
  | { page: 'tasks' }
  | { page: 'task'; taskId: string }
  | { page: 'tokens' }
  | { page: 'cli' }
  /** Approving a `speos-portal login` (the address it prints lands here with ?code=). */
  | { page: 'device'; code: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '');
  if (path.startsWith('/tokens')) return { page: 'tokens' };
  if (path.startsWith('/cli')) return { page: 'cli' };
  if (path.startsWith('/device')) {
    return { page: 'device', code: new URLSearchParams(path.split('?')[1] ?? '').get('code') ?? '' };
  }
  const task = /^\/tasks\/([^/?#]+)/.exec(path);
  if (task) return { page: 'task', taskId: decodeURIComponent(task[1]!) };
  if (path.startsWith('/tasks')) return { page: 'tasks' };
  return { page: 'submit' };
}

export const hrefTask = (taskId: string) => `#/tasks/${encodeURIComponent(taskId)}`;

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
