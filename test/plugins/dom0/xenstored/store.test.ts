import { describe, expect, it } from 'vitest';
import { Children } from '../../../../plugins/dom0/xenstored/children.js';
import { bytesHash, childPath } from '../../../../plugins/dom0/xenstored/paths.js';
import { XsStore, type XsNode } from '../../../../plugins/dom0/xenstored/store.js';

const PERMS = [{ domid: 0, access: 0 }];
const leaf = (value: string): XsNode => ({ value, perms: PERMS, children: Children.EMPTY, gen: 0 });
const dir = (...names: string[]): XsNode => ({ value: '', perms: PERMS, children: names.reduce((c, n) => c.with(n), Children.EMPTY), gen: 0 });
const enc = (s: string) => new TextEncoder().encode(s);

/** Looks `path` up by its bytes, as READ does. */
function byBytes(store: XsStore, path: string): XsNode | undefined {
  const b = enc(`xx${path}yy`);
  return store.getBytes(b, 2, 2 + path.length, bytesHash(b, 2, 2 + path.length));
}

/** Adds /a, /a/b, /a/b/c (values = their paths). */
function tree(store: XsStore): void {
  store.put('/', dir('tool', 'a'));
  store.put('/a', dir('b'));
  store.put('/a/b', dir('c'));
  store.put('/a/b/c', leaf('/a/b/c'));
}

describe('XsStore paths (nodes stored under their parents)', () => {
  it('finds nodes by string and by bytes, and not their prefixes, suffixes or look-alikes', () => {
    const s = new XsStore();
    tree(s);
    expect(s.get('/a/b/c')?.value).toBe('/a/b/c');
    expect(byBytes(s, '/a/b/c')?.value).toBe('/a/b/c');
    expect(byBytes(s, '/a/b')?.children.names()).toEqual(['c']);
    for (const other of ['/a/b/c/', 'a/b/c', '/a/bc', '/ab/c', '/a/b/cc', '//a/b/c', '/x/b/c']) {
      expect(s.get(other), other).toBeUndefined();
      expect(byBytes(s, other), other).toBeUndefined();
    }
    expect(s.get('/')?.children.has('a')).toBe(true);
    expect(s.get('@introduceDomain')).toBeDefined();
    expect(byBytes(s, '@releaseDomain')).toBeDefined();
    expect(s.check()).toEqual([]);
  });

  it('still finds a child removed after its parent (RM walks top-down)', () => {
    const s = new XsStore();
    tree(s);
    s.del('/a');
    expect(s.get('/a')).toBeUndefined();
    expect(s.get('/a/b')?.value).toBe('');
    s.del('/a/b');
    expect(s.get('/a/b/c')?.value).toBe('/a/b/c');
    s.del('/a/b/c');
    expect(s.get('/a/b/c')).toBeUndefined();
    // The freed slots are reused, and new nodes at the old paths are found.
    s.put('/', dir('tool'));
    tree(s);
    expect(s.get('/a/b/c')?.value).toBe('/a/b/c');
    expect(s.size).toBe(8); // /, /tool, /tool/xenstored, the two special nodes, /a, /a/b, /a/b/c
    expect(s.check()).toEqual([]);
  });

  it('stores a node committed before its parent under its whole path', () => {
    const s = new XsStore();
    s.put('/x/y/z', leaf('z'));
    s.put('/x/y', dir('z'));
    s.put('/x', dir('y'));
    s.put('/', dir('tool', 'x'));
    expect(s.get('/x/y/z')?.value).toBe('z');
    expect(byBytes(s, '/x/y/z')?.value).toBe('z');
    expect(s.check()).toEqual([]);
  });

  it('keeps every path of a large tree distinct through adds and removals', () => {
    const s = new XsStore();
    s.put('/', dir('tool', 'local'));
    s.put('/local', dir('domain'));
    const domains: string[] = [];
    for (let d = 1; d <= 300; d++) domains.push(String(d));
    s.put('/local/domain', dir(...domains));
    for (const d of domains) {
      const home = childPath('/local/domain', d);
      s.put(home, dir('name', 'memory'));
      s.put(`${home}/name`, leaf(`guest${d}`));
      s.put(`${home}/memory`, dir('target'));
      s.put(`${home}/memory/target`, leaf(d));
    }
    for (const d of domains.filter((x) => Number(x) % 3 === 0)) {
      const home = childPath('/local/domain', d);
      for (const p of [home, `${home}/name`, `${home}/memory`, `${home}/memory/target`]) s.del(p);
    }
    s.put('/local/domain', dir(...domains.filter((x) => Number(x) % 3 !== 0)));
    for (const d of domains) {
      const gone = Number(d) % 3 === 0;
      expect(s.get(`/local/domain/${d}/memory/target`)?.value).toBe(gone ? undefined : d);
      expect(byBytes(s, `/local/domain/${d}/name`)?.value).toBe(gone ? undefined : `guest${d}`);
    }
    expect(s.check()).toEqual([]);
  });
});
