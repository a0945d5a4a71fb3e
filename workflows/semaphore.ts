/** FIFO slots for running tasks; handing a slot straight to the next waiter means no waiter can overtake or oversubscribe. */
export class Semaphore {
  private inUse = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.inUse < this.limit) {
      this.inUse += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Resolves when a slot is handed over; for a caller that found none free with tryAcquire. Not async: one promise. */
  waitForSlot(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Takes a slot if one is free now, without waiting (and without a promise). */
  tryAcquire(): boolean {
    if (this.inUse >= this.limit) return false;
    this.inUse += 1;
    return true;
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.inUse -= 1;
  }

  async withSlot<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }
}
