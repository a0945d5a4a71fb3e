/**
 * Which tasks of a DAG may be decided next, kept by counting each task's unfinished upstreams instead of
 * scanning every task on each step. A pass hands out tasks in DAG order exactly as a scan from the first
 * task to the last would: a task that becomes ready during a pass is handed out in that pass only if it
 * comes after the task being decided, else in the next pass. So the order of scheduled commands is the
 * one the scan produced, and recorded histories replay.
 */
export class ReadyQueue {
  /** Per task index: upstreams not yet finished (one per `needs` entry). */
  private readonly waitingOn: number[];
  /** Per task index: the indices of tasks that need it, once per `needs` entry. */
  private readonly dependents: number[][];
  private readonly finished: boolean[];
  private finishedCount = 0;
  /** Candidates for the current pass, as a min-heap of task indices. */
  private readonly heap: number[] = [];
  private readonly queued: boolean[];
  /** Ready while a pass was past them: the next pass takes them. */
  private deferred: number[] = [];
  private position: number | undefined;

  constructor(needs: readonly (readonly string[])[], ids: readonly string[], isFinished: (index: number) => boolean) {
    const indexOf = new Map(ids.map((id, index) => [id, index]));
    this.finished = ids.map((_, index) => isFinished(index));
    this.finishedCount = this.finished.filter(Boolean).length;
    this.dependents = ids.map(() => []);
    this.queued = ids.map(() => false);
    // An upstream missing from the DAG never finishes, as before: its dependents wait forever.
    this.waitingOn = needs.map((upstreams, index) => {
      let waiting = 0;
      for (const upstream of upstreams) {
        const at = indexOf.get(upstream);
        if (at === undefined) waiting += 1;
        else {
          this.dependents[at]?.push(index);
          if (!this.finished[at]) waiting += 1;
        }
      }
      return waiting;
    });
    this.waitingOn.forEach((waiting, index) => {
      if (waiting === 0) this.push(index);
    });
  }

  get allFinished(): boolean {
    return this.finishedCount === this.finished.length;
  }

  /** Records that a task reached (or, never expected, left) a terminal state; dependents may become ready. */
  setFinished(index: number, finished: boolean): void {
    if (this.finished[index] === finished) return;
    this.finished[index] = finished;
    this.finishedCount += finished ? 1 : -1;
    for (const dependent of this.dependents[index] ?? []) {
      const waiting = (this.waitingOn[dependent] ?? 0) + (finished ? -1 : 1);
      this.waitingOn[dependent] = waiting;
      if (waiting === 0) this.offer(dependent);
    }
  }

  /** One pass: calls `decide` for each ready task in DAG order, including those that become ready after the current one. */
  pass(decide: (index: number) => void): void {
    for (const index of this.deferred) this.push(index);
    this.deferred = [];
    try {
      for (let next = this.pop(); next !== undefined; next = this.pop()) {
        this.position = next;
        this.queued[next] = false;
        // Ready when offered, but an upstream may have left its terminal state since (the scan checked at visit time).
        if (this.waitingOn[next] === 0) decide(next);
      }
    } finally {
      this.position = undefined;
    }
  }

  private offer(index: number): void {
    if (this.position !== undefined && index <= this.position) this.deferred.push(index);
    else this.push(index);
  }

  private push(index: number): void {
    if (this.queued[index]) return;
    this.queued[index] = true;
    const heap = this.heap;
    heap.push(index);
    for (let at = heap.length - 1; at > 0; ) {
      const parent = (at - 1) >> 1;
      if ((heap[parent] ?? 0) <= index) break;
      heap[at] = heap[parent] ?? 0;
      heap[parent] = index;
      at = parent;
    }
  }

  private pop(): number | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    for (let at = 0; ; ) {
      const left = 2 * at + 1;
      const right = left + 1;
      let smallest = at;
      if (left < heap.length && (heap[left] ?? 0) < (heap[smallest] ?? 0)) smallest = left;
      if (right < heap.length && (heap[right] ?? 0) < (heap[smallest] ?? 0)) smallest = right;
      if (smallest === at) break;
      [heap[at], heap[smallest]] = [heap[smallest] ?? 0, heap[at] ?? 0];
      at = smallest;
    }
    return top;
  }
}
