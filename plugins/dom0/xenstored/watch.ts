/** Watches: registration per connection, an index by path, and matching a change to the watches it fires. */
import { isChildOf, parentOf } from './paths.js';

/** One registered watch. */
export interface XsWatch {
  /** The owning session (opaque to this table). */
  readonly owner: object;
  /** Canonical path (absolute, or `@...`). */
  readonly path: string;
  readonly token: string;
  /** For a relative watch: chars to strip from event paths (`/local/domain/<n>/`). */
  readonly stripPrefix: number;
}

/** All watches, indexed by path so a change costs its depth, not the number of watches. */
export class XsWatchTable {
  private readonly byPath = new Map<string, XsWatch[]>();
  private readonly byOwner = new Map<object, XsWatch[]>();

  /** The owner's watches, in registration order. */
  of(owner: object): readonly XsWatch[] {
    return this.byOwner.get(owner) ?? [];
  }

  find(owner: object, path: string, token: string): XsWatch | undefined {
    return this.of(owner).find((w) => w.path === path && w.token === token);
  }

  add(w: XsWatch): void {
    push(this.byPath, w.path, w);
    push(this.byOwner, w.owner, w);
  }

  remove(w: XsWatch): void {
    pull(this.byPath, w.path, w);
    pull(this.byOwner, w.owner, w);
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
      for (const w of this.byPath.get(path) ?? []) visit(w, path);
      return;
    }
    for (let p = path; ; p = parentOf(p)) {
      const l = this.byPath.get(p);
      if (l) for (const w of l) visit(w, path);
      if (p === '/') break;
    }
    if (recurse) {
      for (const [wp, l] of this.byPath) {
        if (wp !== path && !wp.startsWith('@') && isChildOf(wp, path)) for (const w of l) visit(w, wp);
      }
    }
  }
}

function push<K>(m: Map<K, XsWatch[]>, k: K, w: XsWatch): void {
  const l = m.get(k);
  if (l) l.push(w);
  else m.set(k, [w]);
}

function pull<K>(m: Map<K, XsWatch[]>, k: K, w: XsWatch): void {
  const l = m.get(k);
  if (!l) return;
  const i = l.indexOf(w);
  if (i >= 0) l.splice(i, 1);
  if (l.length === 0) m.delete(k);
}
