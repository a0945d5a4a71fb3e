import type { FastifyInstance } from 'fastify';

export interface RequestTurnsOptions {
  /** How long the requests waiting at a turn may take to start, at the last turn's pace (default 50 ms). */
  drainWithinMs?: number;
  nowMs?: () => number;
  /** Runs a callback at the next turn of the loop (tests hold it in their hand). */
  nextTurn?: (callback: () => void) => void;
}

export const DRAIN_WITHIN_MS = 50;

/**
 * Starts the API's requests in arrival order, a few per turn of the event loop.
 *
 * libuv (1.45 and later, so Node 20) accepts one new connection per turn of the loop. When every ready request of
 * the open connections is served in the same turn, a turn lasts as long as all of them together, and a connection
 * opened meanwhile waits that long to be accepted; the next one waits a turn more. Under a burst of 32 connections
 * the last ones opened had their first request answered after most of a second, while the others were answered in
 * tens of milliseconds. Starting only a few requests per turn keeps each turn short, so the listener accepts at
 * the pace requests finish, and the queue is first come, first served across connections.
 *
 * How many start per turn follows the queue: enough that what waits now starts within `drainWithinMs` at the
 * pace of the last turn, and never fewer than one. A loop slowed by other work (the worker shares it under
 * `qubinode up`) therefore starts more requests per turn instead of starting fewer per second.
 */
export class RequestTurns {
  private readonly waiting: (() => void)[] = [];
  private head = 0;
  private scheduled = false;
  private lastTurnAtMs: number | undefined;
  private readonly drainWithinMs: number;
  private readonly now: () => number;
  private readonly nextTurn: (callback: () => void) => void;

  constructor(options: RequestTurnsOptions = {}) {
    this.drainWithinMs = options.drainWithinMs ?? DRAIN_WITHIN_MS;
    this.now = options.nowMs ?? (() => performance.now());
    this.nextTurn = options.nextTurn ?? setImmediate;
  }

  /** Resolves at a later turn of the loop, once the requests that arrived earlier have started. */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** Requests waiting for their turn. */
  get length(): number {
    return this.waiting.length - this.head;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.nextTurn(() => this.turn());
  }

  private turn(): void {
    this.scheduled = false;
    const now = this.now();
    // The first turn after a quiet spell has no pace to go by: it starts one request and measures the next.
    const turnMs = this.lastTurnAtMs === undefined ? 0 : now - this.lastTurnAtMs;
    const starting = Math.max(1, Math.ceil((this.length * turnMs) / this.drainWithinMs));
    const until = Math.min(this.waiting.length, this.head + starting);
    for (; this.head < until; this.head += 1) this.waiting[this.head]?.();
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
      this.lastTurnAtMs = undefined;
      return;
    }
    // Compacted now and then, so a queue that never empties does not keep every request it ever held.
    if (this.head > 1024) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    this.lastTurnAtMs = now;
    this.schedule();
  }
}

/** Makes every request of `app` wait for its turn before any other hook runs; install it before the others. */
export function installRequestTurns(app: FastifyInstance, turns = new RequestTurns()): RequestTurns {
  app.addHook('onRequest', async () => turns.wait());
  return turns;
}
