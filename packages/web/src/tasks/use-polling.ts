import { useEffect, useRef, useState } from 'react';
import { auth, errorDetail } from '../api.js';
import { useObservable } from '../uploads/use-observable.js';

export type Loaded<T> = {
  data: T | undefined;
  error: string | undefined;
  status: number | undefined;
  loading: boolean;
};

/**
 * Loads `fetcher` now, whenever `key` or the token changes, and again every `intervalMs` while
 * `shouldPoll(data)` says the data is still moving. A 401 opens the token dialog; a network
 * error or a 5xx is tried again after twice the interval.
 */
export function usePolling<T>(
  key: string,
  fetcher: (signal: AbortSignal) => Promise<T>,
  shouldPoll: (data: T) => boolean,
  intervalMs = 3000,
): Loaded<T> & { reload(): void } {
  const { generation } = useObservable(auth);
  const [state, setState] = useState<Loaded<T>>({
    data: undefined,
    error: undefined,
    status: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const latest = useRef({ fetcher, shouldPoll });
  latest.current = { fetcher, shouldPoll };

  // biome-ignore lint/correctness/useExhaustiveDependencies: key, tick and generation are the triggers to load again
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState((s) => ({ ...s, loading: true }));
    latest.current
      .fetcher(controller.signal)
      .then((data) => {
        setState({ data, error: undefined, status: 200, loading: false });
        if (latest.current.shouldPoll(data)) timer = setTimeout(() => setTick((n) => n + 1), intervalMs);
      })
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        auth.noticeError(error);
        const status = (error as { status?: number }).status;
        setState((s) => ({ ...s, error: errorDetail(error), status, loading: false }));
        // A network blip or a busy server should not freeze a live page: try again, more slowly.
        if (status === undefined || status >= 500 || status === 429) {
          timer = setTimeout(() => setTick((n) => n + 1), intervalMs * 2);
        }
      });
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [key, tick, generation, intervalMs]);

  return { ...state, reload: () => setTick((n) => n + 1) };
}
