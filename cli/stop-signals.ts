/**
 * Ctrl-C handling for the long-running commands (`up`, `worker`): the first SIGINT or SIGTERM starts an
 * orderly stop (SIGHUP too), a second one forces the process out after running the registered last-resort cleanups.
 *
 * Under `npm start` one Ctrl-C arrives twice: the terminal signals the whole foreground process group and
 * npm forwards the signal it got to its child. A repeat within `repeatAfterMs` of the first is that echo,
 * not a second press, and is ignored. Without a listener of our own a repeat would end the process with
 * Node's default action and skip every cleanup (the Temporal SDK's own handler removes itself after the
 * first signal), leaving a dev server started by `up` running.
 */

// SIGHUP too: a closed terminal would otherwise end the process by default, skipping every cleanup.
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];
const SIGNAL_NUMBERS: Record<StopSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

export interface StopSignals {
  /** Resolves with the first stop signal. */
  readonly requested: Promise<StopSignal>;
  /** Whether a stop signal has arrived. */
  readonly signalled: boolean;
  /** A synchronous cleanup a forced exit still runs (e.g. stopping a server this process started). */
  onForce(cleanup: () => void): void;
  /** Stops listening (the process then reacts to signals as Node does by default). */
  dispose(): void;
}

export interface StopSignalOptions {
  /** Where the notes go (default: stderr). */
  write?: (line: string) => void;
  /** A repeat sooner than this after the first signal is the same Ctrl-C delivered twice. */
  repeatAfterMs?: number;
  /** What the first signal stops, for the note printed then. */
  stopping?: string;
  exit?: (code: number) => void;
}

export function watchStopSignals(options: StopSignalOptions = {}): StopSignals {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const repeatAfterMs = options.repeatAfterMs ?? 1000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const cleanups: (() => void)[] = [];
  let firstAt: number | undefined;
  let resolveRequested: (signal: StopSignal) => void = () => undefined;
  const requested = new Promise<StopSignal>((resolve) => (resolveRequested = resolve));

  const onSignal = (signal: StopSignal): void => {
    if (firstAt === undefined) {
      firstAt = Date.now();
      write(`${signal === 'SIGINT' ? 'Ctrl-C: ' : `${signal}: `}stopping${options.stopping ? ` ${options.stopping}` : ''} (press Ctrl-C again to force)`);
      resolveRequested(signal);
      return;
    }
    if (Date.now() - firstAt < repeatAfterMs) return;
    write('forced stop');
    for (const cleanup of cleanups) {
      try {
        cleanup();
      } catch {
        // Best effort: the process is leaving either way.
      }
    }
    exit(128 + SIGNAL_NUMBERS[signal]);
  };
  const listeners = STOP_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, listener] of listeners) process.on(signal, listener);

  return {
    requested,
    get signalled() {
      return firstAt !== undefined;
    },
    onForce: (cleanup) => void cleanups.push(cleanup),
    dispose: () => {
      for (const [signal, listener] of listeners) process.off(signal, listener);
    },
  };
}
