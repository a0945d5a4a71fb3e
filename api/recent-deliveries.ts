import type { PushOutcome } from './metrics';

/** One webhook delivery to a registered repository, as the repositories page lists it. */
export interface RecentDelivery {
  at: string;
  forge: string;
  outcome: PushOutcome;
  /** The HTTP status the forge was answered with. */
  status: number;
  /** Only from a delivery whose signature checked out: a stranger's text is never kept. */
  event?: string;
  commit?: string;
  deliveryId?: string;
}

/** Deliveries kept per repository, newest first. */
export const DELIVERIES_KEPT_PER_REPO = 50;
/** Repositories tracked at once; the one least recently delivered to goes first. */
const REPOS_KEPT = 1000;
/** A forge's delivery id as it may be shown: a UUID or a number, nothing longer. */
const SHOWN_DELIVERY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The last deliveries each registered repository received at this API process (a restart starts
 * empty): what an operator checks first when a push did not sync. Bounded per repository and in
 * repositories; recording is a few assignments, so refusing a forged push stays cheap.
 */
export class RecentDeliveries {
  private readonly byRepo = new Map<string, RecentDelivery[]>();

  record(repo: string, delivery: RecentDelivery): void {
    const kept = this.byRepo.get(repo) ?? [];
    // Re-inserted so the map's order is least recently delivered first.
    this.byRepo.delete(repo);
    this.byRepo.set(repo, kept);
    const { deliveryId, ...rest } = delivery;
    kept.unshift(deliveryId !== undefined && SHOWN_DELIVERY_ID.test(deliveryId) ? { ...rest, deliveryId } : rest);
    if (kept.length > DELIVERIES_KEPT_PER_REPO) kept.length = DELIVERIES_KEPT_PER_REPO;
    while (this.byRepo.size > REPOS_KEPT) {
      const oldest = this.byRepo.keys().next();
      if (oldest.done) break;
      this.byRepo.delete(oldest.value);
    }
  }

  /** Newest first; empty when the repository got none since this process started. */
  list(repo: string): RecentDelivery[] {
    return [...(this.byRepo.get(repo) ?? [])];
  }
}
