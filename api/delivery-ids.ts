/**
 * Delivery ids this process has accepted, oldest forgotten first, so a forge's redelivery is
 * answered as a duplicate without asking Temporal and a flood of distinct ids cannot grow memory.
 * The repository workflow keeps its own bounded list too, which catches redeliveries that reach
 * another API process or arrive after this one forgot them.
 */
export class DeliveryIds {
  // A Set iterates in insertion order: its first element is always the oldest.
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
  }

  /** True when `id` was already remembered; otherwise remembers it (forgetting the oldest beyond capacity). */
  seenBefore(id: string): boolean {
    if (this.ids.has(id)) return true;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
    return false;
  }

  /** Forgets `id`: a delivery that could not be handed to Temporal may be redelivered and must then be taken. */
  forget(id: string): void {
    this.ids.delete(id);
  }

  get size(): number {
    return this.ids.size;
  }
}
