/** The node database: a map keyed by full path, each node holding its value, perms and child names. */
import { Children } from './children.js';
import type { XsPerm } from './permissions.js';
import { baseName, childPath, parentOf, pathHash } from './paths.js';
import { latin1 } from './wire.js';

/** One node. Treat as immutable once stored: writers put a fresh object (transactions share them). */
export interface XsNode {
  readonly value: Uint8Array;
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

const EMPTY = new Uint8Array(0);

const scratch = new Uint8Array(4096);
/**
 * A flat copy of a path: paths are often built by concatenation or slicing (V8 cons and sliced
 * strings), and a stored path is compared char by char on every lookup ({@link XsStore.getBytes}).
 */
function flatten(path: string): string {
  const n = path.length;
  if (n > scratch.length) return path;
  for (let i = 0; i < n; i++) scratch[i] = path.charCodeAt(i);
  return latin1(scratch, 0, n);
}

/** Where a path's current node is kept: found by the path, or by the hash of its bytes. */
interface Slot {
  readonly path: string;
  readonly hash: number;
  /** Position in {@link HashIndex}'s slot list. */
  readonly index: number;
  node: XsNode;
}

/**
 * Slots by path hash: open addressing with linear probing over (hash, slot index + 1) pairs in one
 * Int32Array, so a probe costs one memory access before the path is compared; deletion shifts the
 * following entries back (no tombstones). Kept at most half full.
 */
class HashIndex {
  private table = new Int32Array(2 * 1024);
  private mask = 1023;
  private used = 0;
  private readonly slots: Array<Slot | undefined> = [];
  private readonly free: number[] = [];

  /** A slot index for a new slot. */
  allocIndex(): number {
    return this.free.pop() ?? this.slots.length;
  }

  insert(slot: Slot): void {
    this.slots[slot.index] = slot;
    if ((this.used + 1) * 2 > this.mask + 1) this.grow();
    this.place(slot.hash, slot.index + 1);
    this.used++;
  }

  remove(slot: Slot): void {
    const t = this.table;
    const mask = this.mask;
    let i = slot.hash & mask;
    while (t[2 * i + 1] !== slot.index + 1) i = (i + 1) & mask;
    // Backward-shift deletion: move later entries of the run into the hole when their home allows it.
    for (;;) {
      t[2 * i + 1] = 0;
      let k = i;
      for (;;) {
        k = (k + 1) & mask;
        if (t[2 * k + 1] === 0) {
          this.slots[slot.index] = undefined;
          this.free.push(slot.index);
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

  /** The node at the path in bytes [start, end) of `b`, whose hash is `hash`. */
  find(b: Uint8Array, start: number, end: number, hash: number): XsNode | undefined {
    const t = this.table;
    const mask = this.mask;
    const n = end - start;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const v = t[2 * i + 1]!;
      if (v === 0) return undefined;
      if (t[2 * i] !== hash) continue;
      const slot = this.slots[v - 1]!;
      const p = slot.path;
      if (p.length !== n) continue;
      let j = 0;
      while (j < n && p.charCodeAt(j) === b[start + j]) j++;
      if (j === n) return slot.node;
    }
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
 * The committed tree: a slot per path, indexed by the path and by its hash, so a request's path bytes
 * find their node without being decoded into a string first ({@link getBytes}).
 */
export class XsStore implements NodeView {
  private readonly nodes = new Map<string, Slot>();
  private readonly byHash = new HashIndex();
  private readonly owners = new Map<number, number>();
  private generation = 0;

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
    return this.nodes.get(path)?.node;
  }

  /**
   * The node whose path is the bytes [start, end) of `b` (a valid path, one byte per char), given
   * `hash` = {@link pathHash} of those bytes.
   */
  getBytes(b: Uint8Array, start: number, end: number, hash: number): XsNode | undefined {
    return this.byHash.find(b, start, end, hash);
  }

  put(path: string, node: XsNode): void {
    node.gen = this.nextGen();
    const newOwner = node.perms[0]?.domid ?? 0;
    const slot = this.nodes.get(path);
    if (slot) {
      this.count(slot.node.perms[0]?.domid ?? 0, -1);
      slot.node = node;
    } else {
      const flat = flatten(path);
      const hash = pathHash(flat);
      const added: Slot = { path: flat, hash, index: this.byHash.allocIndex(), node };
      this.nodes.set(flat, added);
      this.byHash.insert(added);
    }
    this.count(newOwner, 1);
  }

  del(path: string): void {
    const slot = this.nodes.get(path);
    if (!slot) return;
    this.nodes.delete(path);
    this.byHash.remove(slot);
    this.count(slot.node.perms[0]?.domid ?? 0, -1);
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
      const node = this.nodes.get(path)!.node;
      const seen = new Set<string>();
      for (const c of node.children.names()) {
        const cp = childPath(path, c);
        if (seen.has(c)) problems.push(`${cp} is duplicated`);
        seen.add(c);
        if (!this.nodes.has(cp)) problems.push(`no child ${cp} found`);
        else stack.push(cp);
      }
    }
    const owners = new Map<number, number>();
    for (const [path, { node }] of this.nodes) {
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
