import { useEffect, useRef, useState } from 'preact/hooks';

export const POLL_MS = 1500;

export interface Polled<T> {
  data?: T;
  error?: Error;
  /** Read again now (after an action changed what is shown). */
  reload: () => void;
}

/**
 * Reads `load` now and then every `intervalMs` while the page is visible and `live` holds; a hidden
 * tab reads again as soon as it is shown. Stops on unmount or when `key` changes (a new read starts).
 */
export function usePoll<T>(load: () => Promise<T>, key: string, options: { intervalMs?: number; live?: boolean } = {}): Polled<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; key: string }>({ key });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const live = options.live ?? true;
  const intervalMs = options.intervalMs ?? POLL_MS;

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const schedule = (): void => {
      if (stopped || !live) return;
      timer = setTimeout(() => void read(), intervalMs);
    };
    const read = async (): Promise<void> => {
      if (stopped) return;
      if (document.visibilityState === 'hidden') return; // resumed by the visibility listener
      try {
        const data = await loadRef.current();
        if (!stopped) setState({ data, key });
      } catch (error) {
        if (!stopped) setState((previous) => ({ ...(previous.key === key ? { data: previous.data } : {}), error: error as Error, key }));
      }
      schedule();
    };
    const onVisible = (): void => {
      if (document.visibilityState !== 'visible' || stopped) return;
      clearTimeout(timer);
      void read();
    };
    document.addEventListener('visibilitychange', onVisible);
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [key, tick, live, intervalMs]);

  const current: { data?: T; error?: Error } = state.key === key ? state : {};
  return { ...(current.data !== undefined ? { data: current.data } : {}), ...(current.error ? { error: current.error } : {}), reload: () => setTick((value) => value + 1) };
}
