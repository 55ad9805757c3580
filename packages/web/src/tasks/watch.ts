/**
 * Browser notifications for tasks someone watches ("Notify me" on a task page). The watched
 * ids and the status last seen are kept in localStorage, so a reload keeps watching; while
 * a tab of the portal is open, the watched tasks are polled and a notification is shown
 * when one starts running or ends. Several tabs show one notification: the task id is its tag.
 */
import type { TaskStatus } from '@speos-portal/protocol';
import { translate } from '../i18n/i18n.js';
import type { Lang } from '../i18n/messages.js';
import { readPref, writePref } from '../prefs.js';
import { hrefTask } from '../shell/router.js';
import { Observable } from '../uploads/observable.js';
import { statusLabel } from './StatusBadge.js';

const TOLD = new Set(['RUNNING', 'SUCCESS', 'FAILURE', 'CANCELLED']);
const OVER = new Set(['SUCCESS', 'FAILURE', 'CANCELLED', 'ABORTED', 'EXPIRED']);
const POLL_MS = 3000;

type Watched = Record<string, string>;

function load(): Watched {
  try {
    const parsed = JSON.parse(readPref('watched') ?? '{}') as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Watched) : {};
  } catch {
    return {};
  }
}

export const notificationsSupported = () => typeof globalThis.Notification === 'function';

class Watcher extends Observable<{ watched: Watched }> {
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    super({ watched: load() });
  }

  #save(watched: Watched) {
    writePref('watched', Object.keys(watched).length > 0 ? JSON.stringify(watched) : undefined);
    this.set({ watched });
  }

  isWatched(taskId: string): boolean {
    return taskId in this.snapshot.watched;
  }

  /** Asks for permission if needed; false when the browser refuses. */
  async watch(taskId: string, status: string): Promise<boolean> {
    if (!notificationsSupported()) return false;
    const permission =
      Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
    if (permission !== 'granted') return false;
    this.#save({ ...this.snapshot.watched, [taskId]: status });
    return true;
  }

  unwatch(taskId: string): void {
    const { [taskId]: _, ...rest } = this.snapshot.watched;
    this.#save(rest);
  }

  /** Polls while the page is open; `lang` gives the notification's words. */
  start(fetchStatus: (taskId: string) => Promise<{ status: string; name: string }>, lang: () => Lang): () => void {
    const tick = async () => {
      for (const [taskId, seen] of Object.entries(this.snapshot.watched)) {
        let now: { status: string; name: string };
        try {
          now = await fetchStatus(taskId);
        } catch {
          continue; // a network blip or a deleted task: try again next time
        }
        if (now.status === seen) continue;
        if (TOLD.has(now.status) && notificationsSupported() && Notification.permission === 'granted') {
          const notification = new Notification(
            translate(lang(), 'notifyTitle', { name: now.name, status: statusLabel(now.status as TaskStatus, lang()) }),
            { tag: `${taskId}:${now.status}`, body: taskId },
          );
          notification.onclick = () => {
            globalThis.focus?.();
            globalThis.location.hash = hrefTask(taskId);
          };
        }
        const watched = { ...load(), [taskId]: now.status };
        if (OVER.has(now.status)) delete watched[taskId];
        this.#save(watched);
      }
      this.#timer = setTimeout(tick, POLL_MS);
    };
    this.#timer = setTimeout(tick, POLL_MS);
    return () => clearTimeout(this.#timer);
  }
}

export const watcher = new Watcher();
