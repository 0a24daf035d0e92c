/** An in-memory `XenstoreClient` for xenconsoled's tests: paths, values, watches and the two special watches. */
import type { XenstoreClient, XenstoreOps } from '../../../../core/api/index.js';

interface Watch {
  readonly path: string;
  readonly fn: (path: string) => void;
}

function under(path: string, watched: string): boolean {
  return path === watched || path.startsWith(`${watched}/`);
}

/**
 * Nodes in a Map; a write creates missing parents; watches on a path fire for the node and its
 * subtree, once at registration and after each change (synchronously, after the store changed).
 * `introduce` / `release` fire `@introduceDomain` / `@releaseDomain`, as XS_INTRODUCE / XS_RELEASE do.
 */
export class FakeXenstore implements XenstoreClient {
  readonly nodes = new Map<string, string>([['/', ''], ['/local', ''], ['/local/domain', '']]);
  private readonly watches = new Set<Watch>();
  /** Every write made through the client, in order. */
  readonly writes: Array<[string, string]> = [];

  read(path: string): string | undefined {
    return this.nodes.get(path);
  }

  write(path: string, value: string): void {
    this.writes.push([path, value]);
    this.set(path, value);
    this.fire(path);
  }

  mkdir(path: string): void {
    if (!this.nodes.has(path)) this.write(path, '');
  }

  rm(path: string): void {
    let any = false;
    for (const p of [...this.nodes.keys()]) {
      if (under(p, path)) {
        this.nodes.delete(p);
        any = true;
      }
    }
    if (any) this.fire(path);
  }

  directory(path: string): readonly string[] | undefined {
    if (!this.nodes.has(path)) return undefined;
    const prefix = path === '/' ? '/' : `${path}/`;
    const names = new Set<string>();
    for (const p of this.nodes.keys()) if (p.startsWith(prefix) && p.length > prefix.length) names.add(p.slice(prefix.length).split('/')[0]!);
    return [...names].sort();
  }

  setPerms(): void {}

  getPerms(path: string): string[] | undefined {
    return this.nodes.has(path) ? ['n0'] : undefined;
  }

  transaction<T>(fn: (tx: XenstoreOps) => T): T {
    return fn(this);
  }

  watch(path: string, fn: (path: string) => void): () => void {
    const w: Watch = { path, fn };
    this.watches.add(w);
    fn(path);
    return () => void this.watches.delete(w);
  }

  /** Watches registered now (leak checks). */
  get watchCount(): number {
    return this.watches.size;
  }

  /** Writes several nodes, then fires the watches once per node (as a committed transaction does). */
  writeAll(values: Record<string, string>): void {
    for (const [p, v] of Object.entries(values)) this.set(p, v);
    for (const p of Object.keys(values)) this.fire(p);
  }

  /** The toolstack's part: the domain's console keys, then XS_INTRODUCE. */
  introduce(domid: number, console?: { ringRef: number; port: number }): void {
    const home = `/local/domain/${domid}`;
    this.writeAll({ [home]: '', ...(console ? { [`${home}/console/ring-ref`]: String(console.ringRef), [`${home}/console/port`]: String(console.port) } : {}) });
    this.fire('@introduceDomain');
  }

  /** libxl's removal of the home, then XS_RELEASE (the toolstack's order). */
  release(domid: number): void {
    this.rm(`/local/domain/${domid}`);
    this.fire('@releaseDomain');
  }

  private set(path: string, value: string): void {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const parent = `/${parts.slice(0, i).join('/')}`;
      if (!this.nodes.has(parent)) this.nodes.set(parent, '');
    }
    this.nodes.set(path, value);
  }

  private fire(path: string): void {
    for (const w of [...this.watches]) {
      if (!this.watches.has(w)) continue;
      if (path.startsWith('@') ? w.path === path : under(path, w.path)) w.fn(path);
    }
  }
}
