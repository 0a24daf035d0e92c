/** A transaction: a private overlay on the store, with per-node generation checks at commit (EAGAIN). */
import type { XsPerm } from './permissions.js';
import type { NodeView, XsNode, XsStore } from './store.js';

/** A change made inside a transaction, replayed to the watches at commit. */
export interface XsChange {
  path: string;
  /** RM: watches below `path` fire too. */
  recurse: boolean;
  /** Perms the affected node had (before a removal) or has, for watch permission checks. */
  node: XsNode | undefined;
  /** SET_PERMS: the perms before, so watchers that could read the node then hear of it too. */
  oldPerms?: readonly XsPerm[];
}

/** What a transaction knows of one node: as first seen in the store (its snapshot), and as it is now in the transaction. */
interface Touched {
  /** The store's node when first accessed (null = absent): commit fails if the store's is another by then. */
  readonly seen: XsNode | null;
  /** The node as this transaction sees it (null = absent or removed). */
  cur: XsNode | null;
  written: boolean;
}

/** One open transaction. Cost is proportional to the nodes it touches, never to the store's size. */
export class XsTransaction implements NodeView {
  /** Every node read or written, in first-access order. */
  private readonly touchedNodes = new Map<string, Touched>();
  private readonly ownerDelta = new Map<number, number>();
  /** Changes to fire at commit. */
  readonly changes: XsChange[] = [];

  constructor(
    readonly id: number,
    private readonly store: XsStore,
  ) {}

  /** Distinct nodes touched so far. */
  get touched(): number {
    return this.touchedNodes.size;
  }

  private entry(path: string): Touched {
    let e = this.touchedNodes.get(path);
    if (e === undefined) {
      const node = this.store.get(path) ?? null;
      e = { seen: node, cur: node, written: false };
      this.touchedNodes.set(path, e);
    }
    return e;
  }

  get(path: string): XsNode | undefined {
    return this.entry(path).cur ?? undefined;
  }

  put(path: string, node: XsNode): void {
    const e = this.entry(path);
    if (e.cur) this.count(e.cur.perms[0]?.domid ?? 0, -1);
    this.count(node.perms[0]?.domid ?? 0, 1);
    e.cur = node;
    e.written = true;
  }

  del(path: string): void {
    const e = this.entry(path);
    if (e.cur) this.count(e.cur.perms[0]?.domid ?? 0, -1);
    e.cur = null;
    e.written = true;
  }

  ownedBy(domid: number): number {
    return this.store.ownedBy(domid) + (this.ownerDelta.get(domid) ?? 0);
  }

  /** True when no node this transaction accessed changed in the store since. */
  valid(): boolean {
    // Stored nodes are never mutated (writers put fresh objects), so identity is the generation check.
    for (const [path, e] of this.touchedNodes) {
      if ((this.store.get(path) ?? null) !== e.seen) return false;
    }
    return true;
  }

  /** Applies the writes to the store (call after `valid()`). */
  apply(): void {
    for (const [path, e] of this.touchedNodes) {
      if (!e.written) continue;
      if (e.cur) this.store.put(path, e.cur);
      else this.store.del(path);
    }
  }

  private count(domid: number, delta: number): void {
    this.ownerDelta.set(domid, (this.ownerDelta.get(domid) ?? 0) + delta);
  }
}
