/** The node database: a map keyed by full path, each node holding its value, perms and child names. */
import type { XsPerm } from './permissions.js';
import { baseName, childPath, parentOf } from './paths.js';

/** One node. Treat as immutable once stored: writers put a fresh object (transactions share them). */
export interface XsNode {
  readonly value: Uint8Array;
  readonly perms: readonly XsPerm[];
  /** Child names in creation order. */
  readonly children: readonly string[];
  /** Generation: bumped (globally unique) on every change, child-list changes included. */
  gen: number;
  /** Cached DIRECTORY payload (children NUL-terminated), built on first use. */
  dirCache?: Uint8Array;
}

/** What the operations read and write: the committed store, or a transaction's private view. */
export interface NodeView {
  get(path: string): XsNode | undefined;
  put(path: string, node: XsNode): void;
  del(path: string): void;
  /** Nodes owned by `domid` as this view sees them. */
  ownedBy(domid: number): number;
}

/** Childlen of a node as C counts it: every name plus its NUL. */
export function childLen(children: readonly string[]): number {
  let n = 0;
  for (const c of children) n += c.length + 1;
  return n;
}

/** The DIRECTORY payload of a node (cached on the node). */
export function directoryBytes(node: XsNode): Uint8Array {
  if (node.dirCache) return node.dirCache;
  const out = new Uint8Array(childLen(node.children));
  let o = 0;
  for (const c of node.children) {
    for (let i = 0; i < c.length; i++) out[o++] = c.charCodeAt(i);
    out[o++] = 0;
  }
  node.dirCache = out;
  return out;
}

const EMPTY = new Uint8Array(0);

/** The committed tree. */
export class XsStore implements NodeView {
  private readonly nodes = new Map<string, XsNode>();
  private readonly owners = new Map<number, number>();
  private generation = 0;

  constructor() {
    // C xenstored's setup_structure: `/`, `/tool`, `/tool/xenstored`, all `n0`; plus the special nodes.
    const perms = [{ domid: 0, access: 0 }];
    this.put('/', { value: EMPTY, perms, children: ['tool'], gen: 0 });
    this.put('/tool', { value: EMPTY, perms, children: ['xenstored'], gen: 0 });
    this.put('/tool/xenstored', { value: EMPTY, perms, children: [], gen: 0 });
    this.put('@introduceDomain', { value: EMPTY, perms, children: [], gen: 0 });
    this.put('@releaseDomain', { value: EMPTY, perms, children: [], gen: 0 });
  }

  /** Next generation number (also used by transactions at commit). */
  nextGen(): number {
    return ++this.generation;
  }

  get(path: string): XsNode | undefined {
    return this.nodes.get(path);
  }

  put(path: string, node: XsNode): void {
    const old = this.nodes.get(path);
    node.gen = this.nextGen();
    this.nodes.set(path, node);
    const newOwner = node.perms[0]?.domid ?? 0;
    if (old) this.count(old.perms[0]?.domid ?? 0, -1);
    this.count(newOwner, 1);
  }

  del(path: string): void {
    const old = this.nodes.get(path);
    if (!old) return;
    this.nodes.delete(path);
    this.count(old.perms[0]?.domid ?? 0, -1);
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
      const node = this.nodes.get(path)!;
      const seen = new Set<string>();
      for (const c of node.children) {
        const cp = childPath(path, c);
        if (seen.has(c)) problems.push(`${cp} is duplicated`);
        seen.add(c);
        if (!this.nodes.has(cp)) problems.push(`no child ${cp} found`);
        else stack.push(cp);
      }
    }
    const owners = new Map<number, number>();
    for (const [path, node] of this.nodes) {
      const o = node.perms[0]?.domid ?? 0;
      owners.set(o, (owners.get(o) ?? 0) + 1);
      if (path.startsWith('@')) continue;
      if (!reached.has(path)) problems.push(`${path} is orphaned`);
      else if (path !== '/' && !this.nodes.get(parentOf(path))?.children.includes(baseName(path))) problems.push(`${path} missing from its parent`);
    }
    for (const [o, n] of owners) if (this.owners.get(o) !== n) problems.push(`dom${o} owns ${n} nodes, counted ${this.owners.get(o) ?? 0}`);
    return problems;
  }
}
