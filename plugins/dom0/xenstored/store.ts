/** The node database: nodes found by full path, each holding its value, perms and child names. */
import { Children } from './children.js';
import type { XsPerm } from './permissions.js';
import { baseName, childPath, flatten, internName, parentOf, pathHash, prefixHash } from './paths.js';

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

const SLASH = 47;

/**
 * The committed nodes by path. Slot i holds a node, its name and its parent's slot: a leaf's path is
 * stored as its last component (interned: a domain's home repeats `name`, `domid`, `ring-ref`...) under
 * its parent, not as a string of its own — most nodes are leaves, and ten thousand homes of fifty nodes
 * should not keep half a million path strings. A slot others name as parent also keeps its whole path
 * (one flat string its children's lookups compare in one pass), as does a slot with no parent (`/`, the
 * special nodes, a node committed before its parent), whose name is its whole path. `table` maps a path's hash to its slot by open addressing with
 * linear probing over (hash, slot + 1) pairs in one Int32Array, so a probe costs one memory access
 * before the path is compared, component by component up the parent chain; deletion shifts the
 * following entries back (no tombstones). Kept at most half full. A removed node's slot stays (out of
 * the table) while another slot names it as parent, so a child removed after its parent — RM walks
 * top-down, a transaction commits in the order it touched nodes — still knows its path.
 */
class NodeTable {
  private table = new Int32Array(2 * 1024);
  private mask = 1023;
  private used = 0;
  private readonly nodes: Array<XsNode | undefined> = [];
  private readonly names: Array<string | undefined> = [];
  /** Parent slot of each slot (−1: none: the name is the whole path). */
  private parents = new Int32Array(1024).fill(-1);
  /** How many slots name each slot as their parent. */
  private refs = new Int32Array(1024);
  /** The whole path of each slot others name as parent (while they do). */
  private readonly fulls: Array<string | undefined> = [];
  private readonly free: number[] = [];
  /** The slot of `/` (−1 until added). */
  private root = -1;

  get size(): number {
    return this.used;
  }

  /** The slot of `path` (whose {@link pathHash} is `hash`), or −1. */
  find(path: string, hash: number): number {
    return this.findPrefix(path, path.length, hash);
  }

  /** The slot of the path made of the first `n` chars of `path` (whose hash is `hash`), or −1. */
  private findPrefix(path: string, n: number, hash: number): number {
    const t = this.table;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const v = t[2 * i + 1]!;
      if (v === 0) return -1;
      if (t[2 * i] === hash && this.matches(v - 1, path, n)) return v - 1;
    }
  }

  /** True when `slot`'s path is the first `end` chars of `path`. */
  private matches(slot: number, path: string, end: number): boolean {
    const names = this.names;
    const parents = this.parents;
    const fulls = this.fulls;
    const root = this.root;
    for (let s = slot; ; ) {
      const name = names[s]!;
      const n = name.length;
      const p = parents[s]!;
      if (p < 0) {
        if (end !== n) return false;
        for (let i = 0; i < n; i++) if (path.charCodeAt(i) !== name.charCodeAt(i)) return false;
        return true;
      }
      const start = end - n;
      if (start < 1 || path.charCodeAt(start - 1) !== SLASH) return false;
      for (let i = 0; i < n; i++) if (path.charCodeAt(start + i) !== name.charCodeAt(i)) return false;
      end = start - 1;
      if (p === root) return end === 0;
      const full = fulls[p];
      if (full !== undefined) {
        if (full.length !== end) return false;
        for (let i = 0; i < end; i++) if (path.charCodeAt(i) !== full.charCodeAt(i)) return false;
        return true;
      }
      s = p;
    }
  }

  /** The slot of the path in bytes [start, end) of `b`, whose hash is `hash`, or −1. */
  findBytes(b: Uint8Array, start: number, end: number, hash: number): number {
    const t = this.table;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const v = t[2 * i + 1]!;
      if (v === 0) return -1;
      if (t[2 * i] === hash && this.matchesBytes(v - 1, b, start, end)) return v - 1;
    }
  }

  /** True when `slot`'s path is the bytes [from, end) of `b`. */
  private matchesBytes(slot: number, b: Uint8Array, from: number, end: number): boolean {
    const names = this.names;
    const parents = this.parents;
    const fulls = this.fulls;
    const root = this.root;
    for (let s = slot; ; ) {
      const name = names[s]!;
      const n = name.length;
      const p = parents[s]!;
      if (p < 0) {
        if (end - from !== n) return false;
        for (let i = 0; i < n; i++) if (b[from + i] !== name.charCodeAt(i)) return false;
        return true;
      }
      const start = end - n;
      if (start < from + 1 || b[start - 1] !== SLASH) return false;
      for (let i = 0; i < n; i++) if (b[start + i] !== name.charCodeAt(i)) return false;
      end = start - 1;
      if (p === root) return end === from;
      const full = fulls[p];
      if (full !== undefined) {
        if (full.length !== end - from) return false;
        for (let i = 0; i < full.length; i++) if (b[from + i] !== full.charCodeAt(i)) return false;
        return true;
      }
      s = p;
    }
  }

  nodeAt(slot: number): XsNode {
    return this.nodes[slot]!;
  }

  setNode(slot: number, node: XsNode): void {
    this.nodes[slot] = node;
  }

  /** Adds a path that is not present. */
  add(path: string, hash: number, node: XsNode): void {
    const slot = this.free.pop() ?? this.nodes.length;
    if (slot >= this.parents.length) this.growColumns();
    // Every column gets its slot in order, so none turns sparse (a dictionary) when a parent's is set.
    this.fulls[slot] = undefined;
    const cut = path.lastIndexOf('/');
    const parent = cut < 0 || path.length === 1 ? -1 : cut === 0 ? this.root : this.findPrefix(path, cut, prefixHash(path, cut));
    if (parent >= 0) {
      this.names[slot] = internName(path.slice(cut + 1));
      this.parents[slot] = parent;
      if (this.refs[parent]!++ === 0 && parent !== this.root) this.fulls[parent] = this.parents[parent]! < 0 ? this.names[parent] : flatten(path.slice(0, cut));
    } else {
      // Compared char by char on every lookup: a flat string, not a rope.
      this.names[slot] = flatten(path);
      this.parents[slot] = -1;
      if (path === '/') this.root = slot;
    }
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
          this.nodes[slot] = undefined;
          this.used--;
          this.release(slot);
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

  /** Frees `slot` once it holds no node and no slot names it as parent, then its parent likewise. */
  private release(slot: number): void {
    while (this.nodes[slot] === undefined && this.refs[slot] === 0) {
      const parent = this.parents[slot]!;
      this.names[slot] = undefined;
      this.parents[slot] = -1;
      if (slot === this.root) this.root = -1;
      this.free.push(slot);
      if (parent < 0) return;
      if (--this.refs[parent]! === 0) this.fulls[parent] = undefined;
      slot = parent;
    }
  }

  /** The path of `slot`. */
  private pathOf(slot: number): string {
    const parts: string[] = [];
    let s = slot;
    for (; this.parents[s]! >= 0; s = this.parents[s]!) parts.push(this.names[s]!);
    const top = s === this.root ? '' : this.names[s]!;
    return parts.length === 0 ? this.names[s]! : `${top}/${parts.reverse().join('/')}`;
  }

  /** Every (path, node). */
  *entries(): Generator<[string, XsNode]> {
    for (let i = 0; i < this.nodes.length; i++) if (this.nodes[i] !== undefined) yield [this.pathOf(i), this.nodes[i]!];
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

  private growColumns(): void {
    const parents = new Int32Array(this.parents.length * 2).fill(-1);
    parents.set(this.parents);
    this.parents = parents;
    const refs = new Int32Array(this.refs.length * 2);
    refs.set(this.refs);
    this.refs = refs;
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
      this.nodes.add(path, this.memoHash, node);
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
