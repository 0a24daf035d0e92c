/** Watches: registration per connection, an index by path, and matching a change to the watches it fires. */
import { parentOf } from './paths.js';
import type { XsCaller } from './permissions.js';

/** Who receives a watch's events: a session, or an in-process watcher. */
export interface XsWatchOwner {
  readonly caller: XsCaller;
  /** Delivers one event (`path` already relative for a relative watch). */
  sendEvent(path: string, token: string): void;
}

/** One registered watch. */
export interface XsWatch {
  readonly owner: XsWatchOwner;
  /** Canonical path (absolute, or `@...`). */
  readonly path: string;
  readonly token: string;
  /** For a relative watch: chars to strip from event paths (`/local/domain/<n>/`). */
  readonly stripPrefix: number;
}

/** A watched path, or an ancestor of one: its watches and the watched-or-ancestor paths just below it. */
interface PathEntry {
  readonly watches: XsWatch[];
  readonly below: Set<string>;
}

/**
 * All watches, indexed by path as a tree of the watched paths and their ancestors, so a change costs
 * its depth plus the watches it fires, never the number of watches or of domains.
 */
export class XsWatchTable {
  private readonly byPath = new Map<string, PathEntry>();
  private readonly byOwner = new Map<object, XsWatch[]>();

  /** The owner's watches, in registration order. */
  of(owner: object): readonly XsWatch[] {
    return this.byOwner.get(owner) ?? [];
  }

  find(owner: object, path: string, token: string): XsWatch | undefined {
    return this.of(owner).find((w) => w.path === path && w.token === token);
  }

  add(w: XsWatch): void {
    this.entry(w.path).watches.push(w);
    const l = this.byOwner.get(w.owner);
    if (l) l.push(w);
    else this.byOwner.set(w.owner, [w]);
  }

  remove(w: XsWatch): void {
    const e = this.byPath.get(w.path);
    if (e) {
      pull(e.watches, w);
      this.prune(w.path, e);
    }
    const l = this.byOwner.get(w.owner);
    if (l) {
      pull(l, w);
      if (l.length === 0) this.byOwner.delete(w.owner);
    }
  }

  /** The entry of `path`, made (and linked below its parents') if absent. */
  private entry(path: string): PathEntry {
    let e = this.byPath.get(path);
    if (e) return e;
    e = { watches: [], below: new Set() };
    this.byPath.set(path, e);
    if (path.startsWith('@') || path === '/') return e;
    // Link upwards until an existing entry.
    let child = path;
    for (;;) {
      const parent = parentOf(child);
      const pe = this.byPath.get(parent);
      if (pe) {
        pe.below.add(child);
        break;
      }
      this.byPath.set(parent, { watches: [], below: new Set([child]) });
      if (parent === '/') break;
      child = parent;
    }
    return e;
  }

  /** Drops `path`'s entry and its empty ancestors' once nothing is watched there or below. */
  private prune(path: string, e: PathEntry): void {
    let p = path;
    let cur = e;
    while (cur.watches.length === 0 && cur.below.size === 0) {
      this.byPath.delete(p);
      if (p.startsWith('@') || p === '/') return;
      const parent = parentOf(p);
      const pe = this.byPath.get(parent);
      if (!pe) return;
      pe.below.delete(p);
      p = parent;
      cur = pe;
    }
  }

  /** Drops every watch of `owner`. */
  removeAll(owner: object): void {
    for (const w of [...this.of(owner)]) this.remove(w);
  }

  get size(): number {
    let n = 0;
    for (const l of this.byOwner.values()) n += l.length;
    return n;
  }

  /**
   * Watches a change at `path` fires, each with the path it reports: watches at `path` or above it
   * report `path`; with `recurse` (RM), watches below `path` fire too and report their own path.
   */
  matches(path: string, recurse: boolean, visit: (w: XsWatch, eventPath: string) => void): void {
    if (this.byPath.size === 0) return;
    if (path.startsWith('@')) {
      const e = this.byPath.get(path);
      if (e) for (const w of [...e.watches]) visit(w, path);
      return;
    }
    const hits: XsWatch[] = [];
    for (let p = path; ; p = parentOf(p)) {
      const e = this.byPath.get(p);
      if (e) for (const w of e.watches) hits.push(w);
      if (p === '/') break;
    }
    for (const w of hits) visit(w, path);
    if (recurse) {
      const top = this.byPath.get(path);
      if (!top) return;
      const below: Array<[string, XsWatch]> = [];
      const stack = [...top.below];
      while (stack.length > 0) {
        const p = stack.pop()!;
        const e = this.byPath.get(p);
        if (!e) continue;
        for (const w of e.watches) below.push([p, w]);
        for (const c of e.below) stack.push(c);
      }
      for (const [p, w] of below) visit(w, p);
    }
  }
}

function pull(l: XsWatch[], w: XsWatch): void {
  const i = l.indexOf(w);
  if (i >= 0) l.splice(i, 1);
}
