/** The node database: nodes found by full path, each holding its value, perms and child names. */
import { Children } from './children.js';
import type { XsPerm } from './permissions.js';
import { baseName, childPath, flatten, parentOf, pathHash } from './paths.js';

/** One node. Treat as immutable once stored: writers put a fresh object (transactions share them). */
export interface XsNode {
  /**
   * The value's bytes, one char per byte (latin1): a short string costs
   * a fraction of a Uint8Array (each of which carries ~200 bytes of JS objects), and a domain's home
   * holds dozens of short values.
   */
  readonly value: string;
  readonly perms: readonly XsPerm[];
  /** Child names in creation order (a version of the list: adding or removing one makes another). */
  readonly children: Children;
  /** Generation: bumped (globally unique) on every change, child-list changes included. */
  gen: number;
}

/** What the operations read and write: the committed store, or a transaction's private view. */
export interface NodeView {
  get(path: string): XsNode | undefined;
  put(path: string, node: XsNode): void;
  del(path: string): void;
  /** Nodes owned by `domid` as this view sees them. */
  ownedBy(domid: number): number;
}


/** The DIRECTORY payload of a node (cached on its child list). */
export function directoryBytes(node: XsNode): Uint8Array {
  const children = node.children;
  if (children.dirBytes) return children.dirBytes;
  const out = new Uint8Array(children.byteLen);
  let o = 0;
  for (const c of children.names()) {
    for (let i = 0; i < c.length; i++) out[o++] = c.charCodeAt(i);
    out[o++] = 0;
  }
  children.dirBytes = out;
  return out;
}

const EMPTY = '';

/**
 * The committed nodes by path: slot i holds `paths[i]` and its current `nodes[i]`; `table` maps a path's
 * hash to its slot by open addressing with linear probing over (hash, slot index + 1) pairs in one
 * Int32Array, so a probe costs one memory access before the path is compared; deletion shifts the
 * following entries back (no tombstones). Kept at most half full. Parallel arrays and no per-node
 * record or second map: a domain's home is about fifty nodes, and ten thousand homes fit in one store.
 */
class NodeTable {
  private table = new Int32Array(2 * 1024);
  private mask = 1023;
  private used = 0;
  private readonly paths: Array<string | undefined> = [];
  private readonly nodes: Array<XsNode | undefined> = [];
  private readonly free: number[] = [];

  get size(): number {
    return this.used;
  }

  /** The slot of `path` (whose {@link pathHash} is `hash`), or −1. */
  find(path: string, hash: number): number {
    const t = this.table;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const v = t[2 * i + 1]!;
      if (v === 0) return -1;
      if (t[2 * i] === hash && this.paths[v - 1] === path) return v - 1;
    }
  }

  /** The slot of the path in bytes [start, end) of `b`, whose hash is `hash`, or −1. */
  findBytes(b: Uint8Array, start: number, end: number, hash: number): number {
    const t = this.table;
    const mask = this.mask;
    const n = end - start;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const v = t[2 * i + 1]!;
      if (v === 0) return -1;
      if (t[2 * i] !== hash) continue;
      const p = this.paths[v - 1]!;
      if (p.length !== n) continue;
      let j = 0;
      while (j < n && p.charCodeAt(j) === b[start + j]) j++;
      if (j === n) return v - 1;
    }
  }

  nodeAt(slot: number): XsNode {
    return this.nodes[slot]!;
  }

  setNode(slot: number, node: XsNode): void {
    this.nodes[slot] = node;
  }

  /** Adds a path that is not present (a flat string: it is compared on every lookup). */
  add(path: string, hash: number, node: XsNode): void {
    const slot = this.free.pop() ?? this.paths.length;
    this.paths[slot] = path;
    this.nodes[slot] = node;
    if ((this.used + 1) * 2 > this.mask + 1) this.grow();
    this.place(hash, slot + 1);
    this.used++;
  }

  /** Removes the path in `slot`, whose hash is `hash`. */
  remove(slot: number, hash: number): void {
    const t = this.table;
    const mask = this.mask;
    let i = hash & mask;
    while (t[2 * i + 1] !== slot + 1) i = (i + 1) & mask;
    // Backward-shift deletion: move later entries of the run into the hole when their home allows it.
    for (;;) {
      t[2 * i + 1] = 0;
      let k = i;
      for (;;) {
        k = (k + 1) & mask;
        if (t[2 * k + 1] === 0) {
          this.paths[slot] = undefined;
          this.nodes[slot] = undefined;
          this.free.push(slot);
          this.used--;
          return;
        }
        const home = t[2 * k]! & mask;
        const stays = i <= k ? i < home && home <= k : i < home || home <= k;
        if (!stays) break;
      }
      t[2 * i] = t[2 * k]!;
      t[2 * i + 1] = t[2 * k + 1]!;
      i = k;
    }
  }

  /** Every (path, node). */
  *entries(): Generator<[string, XsNode]> {
    for (let i = 0; i < this.paths.length; i++) if (this.paths[i] !== undefined) yield [this.paths[i]!, this.nodes[i]!];
  }

  private place(hash: number, value: number): void {
    const t = this.table;
    const mask = this.mask;
    let i = hash & mask;
    while (t[2 * i + 1] !== 0) i = (i + 1) & mask;
    t[2 * i] = hash;
    t[2 * i + 1] = value;
  }

  private grow(): void {
    const old = this.table;
    this.mask = this.mask * 2 + 1;
    this.table = new Int32Array(2 * (this.mask + 1));
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.place(old[i]!, old[i + 1]!);
  }
}

/**
 * The committed tree: a slot per path, found by the path or by its bytes, so a request's path bytes
 * find their node without being decoded into a string first ({@link getBytes}).
 */
export class XsStore implements NodeView {
  private readonly nodes = new NodeTable();
  private readonly owners = new Map<number, number>();
  private generation = 0;
  /** The last path looked up, its hash and its slot (−1: absent): a write looks its path up twice, get then put. */
  private memoPath: string | undefined;
  private memoHash = 0;
  private memoSlot = -1;

  constructor() {
    // C xenstored's setup_structure: `/`, `/tool`, `/tool/xenstored`, all `n0`; plus the special nodes.
    const perms = [{ domid: 0, access: 0 }];
    this.put('/', { value: EMPTY, perms, children: Children.EMPTY.with('tool'), gen: 0 });
    this.put('/tool', { value: EMPTY, perms, children: Children.EMPTY.with('xenstored'), gen: 0 });
    this.put('/tool/xenstored', { value: EMPTY, perms, children: Children.EMPTY, gen: 0 });
    this.put('@introduceDomain', { value: EMPTY, perms, children: Children.EMPTY, gen: 0 });
    this.put('@releaseDomain', { value: EMPTY, perms, children: Children.EMPTY, gen: 0 });
  }

  /** Next generation number (also used by transactions at commit). */
  nextGen(): number {
    return ++this.generation;
  }

  get(path: string): XsNode | undefined {
    const slot = this.lookup(path);
    return slot < 0 ? undefined : this.nodes.nodeAt(slot);
  }

  /**
   * The node whose path is the bytes [start, end) of `b` (a valid path, one byte per char), given
   * `hash` = {@link pathHash} of those bytes.
   */
  getBytes(b: Uint8Array, start: number, end: number, hash: number): XsNode | undefined {
    const slot = this.nodes.findBytes(b, start, end, hash);
    return slot < 0 ? undefined : this.nodes.nodeAt(slot);
  }

  put(path: string, node: XsNode): void {
    node.gen = this.nextGen();
    const newOwner = node.perms[0]?.domid ?? 0;
    const slot = this.lookup(path);
    if (slot >= 0) {
      this.count(this.nodes.nodeAt(slot).perms[0]?.domid ?? 0, -1);
      this.nodes.setNode(slot, node);
    } else {
      this.nodes.add(flatten(path), this.memoHash, node);
      this.memoPath = undefined;
    }
    this.count(newOwner, 1);
  }

  del(path: string): void {
    const slot = this.lookup(path);
    if (slot < 0) return;
    this.count(this.nodes.nodeAt(slot).perms[0]?.domid ?? 0, -1);
    this.nodes.remove(slot, this.memoHash);
    this.memoPath = undefined;
  }

  /** The slot of `path` (−1: absent), remembered with its hash for the next call. */
  private lookup(path: string): number {
    if (path === this.memoPath) return this.memoSlot;
    const hash = pathHash(path);
    this.memoPath = path;
    this.memoHash = hash;
    this.memoSlot = this.nodes.find(path, hash);
    return this.memoSlot;
  }

  ownedBy(domid: number): number {
    return this.owners.get(domid) ?? 0;
  }

  /** Number of nodes, special nodes included. */
  get size(): number {
    return this.nodes.size;
  }

  private count(domid: number, delta: number): void {
    const n = (this.owners.get(domid) ?? 0) + delta;
    if (n === 0) this.owners.delete(domid);
    else this.owners.set(domid, n);
  }

  /**
   * C's check_store: every child named by a node exists, no duplicates, every node is reachable from
   * `/` with a correct parent entry, and owner counts match. Returns a list of problems (empty = OK).
   */
  check(): string[] {
    const problems: string[] = [];
    const reached = new Set<string>();
    const stack = ['/'];
    while (stack.length > 0) {
      const path = stack.pop()!;
      reached.add(path);
      const node = this.get(path)!;
      const seen = new Set<string>();
      for (const c of node.children.names()) {
        const cp = childPath(path, c);
        if (seen.has(c)) problems.push(`${cp} is duplicated`);
        seen.add(c);
        if (this.get(cp) === undefined) problems.push(`no child ${cp} found`);
        else stack.push(cp);
      }
    }
    const owners = new Map<number, number>();
    for (const [path, node] of this.nodes.entries()) {
      const o = node.perms[0]?.domid ?? 0;
      owners.set(o, (owners.get(o) ?? 0) + 1);
      if (path.startsWith('@')) continue;
      if (!reached.has(path)) problems.push(`${path} is orphaned`);
      else if (path !== '/' && !this.get(parentOf(path))?.children.has(baseName(path))) problems.push(`${path} missing from its parent`);
    }
    for (const [o, n] of owners) if (this.owners.get(o) !== n) problems.push(`dom${o} owns ${n} nodes, counted ${this.owners.get(o) ?? 0}`);
    return problems;
  }
}
