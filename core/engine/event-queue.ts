/** A discrete-event queue ordered by (time, insertion sequence): ties always break the same way. */

/** A scheduled callback. Keep the handle to cancel it; a fired or cancelled handle is inert. */
export interface EventHandle {
  readonly time: number;
  readonly seq: number;
  /** True while the event is still waiting to fire. */
  readonly pending: boolean;
}

export type EventCallback = (now: number) => void;

class QueuedEvent implements EventHandle {
  constructor(
    public time: number,
    public seq: number,
    public callback: EventCallback | null,
  ) {}
  get pending(): boolean {
    return this.callback !== null;
  }
}

/**
 * A binary min-heap of events. Cancellation is lazy: a cancelled event stays in the heap with no
 * callback and is dropped when it reaches the top, so cancel is O(1).
 */
export class EventQueue {
  private heap: QueuedEvent[] = [];
  private nextSeq = 0;
  private live = 0;

  /** Number of events that will still fire. */
  get size(): number {
    return this.live;
  }

  /** Time of the earliest pending event, or `Infinity` when none is pending. */
  peekTime(): number {
    this.dropCancelledTop();
    return this.heap.length > 0 ? this.heap[0]!.time : Infinity;
  }

  push(time: number, callback: EventCallback): EventHandle {
    if (!(time >= 0) || !Number.isFinite(time)) throw badTime(time);
    const event = new QueuedEvent(time, this.nextSeq++, callback);
    const heap = this.heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p.time < time || (p.time === time && p.seq < event.seq)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
    this.live++;
    return event;
  }

  cancel(handle: EventHandle): boolean {
    const event = handle as QueuedEvent;
    if (event.callback === null) return false;
    event.callback = null;
    this.live--;
    return true;
  }

  /** Removes the earliest pending event and returns it, or `undefined` when the queue is empty. */
  pop(): { time: number; callback: EventCallback } | undefined {
    this.dropCancelledTop();
    if (this.heap.length === 0) return undefined;
    const top = this.removeTop();
    const callback = top.callback!;
    top.callback = null;
    this.live--;
    return { time: top.time, callback };
  }

  /**
   * Pops and runs every event with time ≤ `limit` in order, passing each its time.
   * `onAdvance` is called before each event so the owner can move its clock. Returns the count run.
   */
  drainUntil(limit: number, onAdvance: (time: number) => void): number {
    let count = 0;
    const heap = this.heap;
    while (heap.length > 0) {
      const top = heap[0]!;
      if (top.callback === null) {
        this.removeTop();
        continue;
      }
      if (top.time > limit) break;
      this.removeTop();
      const callback = top.callback;
      top.callback = null;
      this.live--;
      onAdvance(top.time);
      callback(top.time);
      count++;
    }
    return count;
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.heap[0]!.callback === null) this.removeTop();
  }

  private removeTop(): QueuedEvent {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        let child = heap[l]!;
        if (r < n) {
          const rc = heap[r]!;
          if (rc.time < child.time || (rc.time === child.time && rc.seq < child.seq)) {
            c = r;
            child = rc;
          }
        }
        if (last.time < child.time || (last.time === child.time && last.seq < child.seq)) break;
        heap[i] = child;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}

/** Made out of line, so the hot push never converts `time` to a string (see the engine's messages). */
function badTime(time: number): RangeError {
  return new RangeError(`event time must be a finite non-negative number, got ${time}`);
}
