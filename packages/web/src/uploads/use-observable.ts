import { useSyncExternalStore } from 'react';
import type { Observable } from './observable.js';

/** Re-renders when the observable changes. */
export function useObservable<T>(observable: Observable<T>): T {
  return useSyncExternalStore(observable.subscribe, observable.getSnapshot);
}
