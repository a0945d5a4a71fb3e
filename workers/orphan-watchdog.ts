import { spawn } from 'node:child_process';
import { AttemptLedger, ATTEMPT_MARKER_ENV } from '../activities/platform/attempt-ledger';
import { stopOrphanGroup } from '../activities/process/process-group';

/**
 * A small process beside each worker, holding the read end of a pipe the worker keeps open. When the
 * worker dies, even by SIGKILL, the pipe closes and the watchdog stops at once the tool processes the
 * worker's attempts started: a killed worker's ansible or kcli never runs on beside the retry. Telling
 * Temporal the attempts are lost stays with the next worker on the host (it has the connection).
 */

const watched = new Set<string>();

/** Starts the watchdog of this process's attempts in a ledger (once per ledger); it outlives this process only to clean up. */
export function startOrphanWatchdog(ledgerDirectory: string): void {
  if (watched.has(ledgerDirectory)) return;
  watched.add(ledgerDirectory);
  const script = require.resolve('./orphan-watchdog');
  // From the TypeScript sources, bin/qubinode.js registers tsx inside the process, which execArgv does not carry: the watchdog needs it too.
  const loader = script.endsWith('.ts') && !process.execArgv.some((arg) => arg.includes('tsx')) ? ['--require', require.resolve('tsx/cjs')] : [];
  const child = spawn(process.execPath, [...process.execArgv, ...loader, script, ledgerDirectory, String(process.pid)], {
    // Its own process group: a Ctrl-C or a group kill aimed at the worker must not take it first.
    detached: true,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.unref();
  // The pipe is the lifeline: never written, closed by the kernel when this process ends.
  (child.stdin as unknown as { unref?: () => void }).unref?.();
}

async function watch(ledgerDirectory: string, workerPid: number): Promise<void> {
  process.stdin.resume();
  await new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    process.stdin.once('error', () => resolve());
  });
  // The closed pipe is the proof of death (the worker may still be an unreaped zombie in /proc).
  const ledger = new AttemptLedger(ledgerDirectory);
  await Promise.all(
    ledger
      .records()
      .filter(({ record }) => record.workerPid === workerPid)
      .flatMap(({ file, record }) => {
        const marker = `${ATTEMPT_MARKER_ENV}=${file.slice(file.lastIndexOf('/') + 1, -'.json'.length)}`;
        return record.groups.map((pgid) => stopOrphanGroup(pgid, marker));
      }),
  );
}

if (require.main === module) {
  const [ledgerDirectory, workerPid] = process.argv.slice(2);
  if (!ledgerDirectory || !workerPid || !/^\d+$/.test(workerPid)) {
    console.error('usage: orphan-watchdog LEDGER_DIR WORKER_PID');
    process.exit(2);
  }
  watch(ledgerDirectory, Number(workerPid)).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error('orphan watchdog:', error);
      process.exit(1);
    },
  );
}
