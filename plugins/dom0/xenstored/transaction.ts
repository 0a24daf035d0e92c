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

/** One open transaction. Cost is proportional to the nodes it touches, never to the store's size. */
export class XsTransaction implements NodeView {
  /** Nodes written (an XsNode) or removed (null) in this transaction. */
  private readonly overlay = new Map<string, XsNode | null>();
  /** Every node read or written, as first seen (null = absent): the transaction's snapshot of it. */
  private readonly accessed = new Map<string, XsNode | null>();
  private readonly ownerDelta = new Map<number, number>();
  /** Changes to fire at commit. */
  readonly changes: XsChange[] = [];

  constructor(
    readonly id: number,
    private readonly store: XsStore,
  ) {}

  /** Distinct nodes touched so far. */
  get touched(): number {
    return this.accessed.size;
  }

  get(path: string): XsNode | undefined {
    const o = this.overlay.get(path);
    if (o !== undefined) return o ?? undefined;
    const seen = this.accessed.get(path);
    if (seen !== undefined) return seen ?? undefined;
    const node = this.store.get(path);
    this.accessed.set(path, node ?? null);
    return node;
  }

  put(path: string, node: XsNode): void {
    const old = this.get(path);
    if (old) this.count(old.perms[0]?.domid ?? 0, -1);
    this.count(node.perms[0]?.domid ?? 0, 1);
    this.overlay.set(path, node);
  }

  del(path: string): void {
    const old = this.get(path);
    if (old) this.count(old.perms[0]?.domid ?? 0, -1);
    this.overlay.set(path, null);
  }

  ownedBy(domid: number): number {
    return this.store.ownedBy(domid) + (this.ownerDelta.get(domid) ?? 0);
  }

  /** True when no node this transaction accessed changed in the store since. */
  valid(): boolean {
    // Stored nodes are never mutated (writers put fresh objects), so identity is the generation check.
    for (const [path, seen] of this.accessed) {
      if ((this.store.get(path) ?? null) !== seen) return false;
    }
    return true;
  }

  /** Applies the overlay to the store (call after `valid()`). */
  apply(): void {
    for (const [path, node] of this.overlay) {
      if (node) this.store.put(path, node);
      else this.store.del(path);
    }
  }

  private count(domid: number, delta: number): void {
    this.ownerDelta.set(domid, (this.ownerDelta.get(domid) ?? 0) + delta);
  }
}
