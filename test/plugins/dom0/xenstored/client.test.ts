/** The `Xenstore` service and Dom0's in-process client: wire semantics, transactions, watches, INTRODUCE / RELEASE. */
import { describe, expect, it } from 'vitest';
import { GuestError, type Xenstore } from '../../../../core/api/index.js';
import { createXenstore } from '../../../../plugins/dom0/xenstored/client.js';
import type { XsDomainHooks } from '../../../../plugins/dom0/xenstored/connection.js';
import { XsType } from '../../../../plugins/dom0/xenstored/wire.js';
import { Client, newEngine } from './helpers.js';

/** A service over a fresh engine; deferred work (initial watch events) runs when `tick()` is called. */
function setup(hooks?: XsDomainHooks) {
  const engine = newEngine(hooks ? { hooks } : {});
  const later: Array<{ fn: () => void; live: boolean }> = [];
  const xs: Xenstore = createXenstore({
    engine,
    socketPath: '/run/xs.sock',
    attached: () => [],
    defer: (fn) => {
      const item = { fn, live: true };
      later.push(item);
      return () => void (item.live = false);
    },
  });
  const tick = (): void => {
    for (const item of later.splice(0)) if (item.live) item.fn();
  };
  return { engine, xs, tick };
}

const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (!(e instanceof GuestError)) throw e;
    return e.code;
  }
  return undefined;
};

describe('Xenstore.dom0: the wire operations in process', () => {
  it('write creates parents, read gives text or undefined, directory lists children in creation order', () => {
    const { xs } = setup();
    xs.dom0.write('/a/b/c', 'héllo');
    expect(xs.dom0.read('/a/b/c')).toBe('héllo');
    expect(xs.dom0.read('/a/b')).toBe('');
    expect(xs.dom0.read('/a/x')).toBeUndefined();
    xs.dom0.write('/a/z', '');
    xs.dom0.mkdir('/a/m');
    xs.dom0.mkdir('/a/m');
    expect(xs.dom0.directory('/a')).toEqual(['b', 'z', 'm']);
    expect(xs.dom0.directory('/nope')).toBeUndefined();
  });

  it('rm removes a subtree and is silent when absent; invalid paths are EINVAL; rm / is EINVAL', () => {
    const { xs } = setup();
    xs.dom0.write('/a/b/c', '1');
    xs.dom0.rm('/a');
    expect(xs.dom0.read('/a/b/c')).toBeUndefined();
    expect(xs.dom0.directory('/')).toEqual(['tool']);
    expect(() => xs.dom0.rm('/a')).not.toThrow();
    expect(() => xs.dom0.rm('/x/y/z')).not.toThrow();
    for (const bad of ['a/b', '/a//b', '/a/', '/a b', '']) expect(code(() => xs.dom0.write(bad, 'v'))).toBe('EINVAL');
    expect(code(() => xs.dom0.rm('/'))).toBe('EINVAL');
  });

  it('setPerms / getPerms as xenstore-chmod; what a guest then may do follows them', () => {
    const { xs, engine } = setup();
    xs.dom0.write('/local/domain/3/data', '');
    xs.dom0.setPerms('/local/domain/3/data', ['n3', 'r5']);
    expect(xs.dom0.getPerms('/local/domain/3/data')).toEqual(['n3', 'r5']);
    expect(xs.dom0.getPerms('/nope')).toBeUndefined();
    expect(code(() => xs.dom0.setPerms('/local/domain/3/data', ['x3']))).toBe('EINVAL');
    expect(code(() => xs.dom0.setPerms('/nope', ['n0']))).toBe('ENOENT');
    const guest = new Client(engine, 3);
    expect(guest.write('data/k', 'v')).toBe('OK\0');
    expect(new Client(engine, 5).read('/local/domain/3/data/k')).toBe('v');
    expect(new Client(engine, 6).read('/local/domain/3/data/k')).toBe('ERR:EACCES');
    xs.dom0.setPerms('@releaseDomain', ['n0', 'r3']);
    expect(xs.dom0.getPerms('@releaseDomain')).toEqual(['n0', 'r3']);
  });

  it('nodeCount counts nodes, back to where it was after rm', () => {
    const { xs } = setup();
    const base = xs.nodeCount();
    xs.dom0.write('/local/domain/1/a/b', 'x');
    expect(xs.nodeCount()).toBe(base + 5);
    xs.dom0.rm('/local');
    expect(xs.nodeCount()).toBe(base);
  });
});

describe('Xenstore.dom0.transaction', () => {
  it('writes are invisible to others until fn returns; watches fire at the end, once per change', () => {
    const { xs, engine, tick } = setup();
    const guest = new Client(engine, 0);
    guest.call(XsType.WATCH, '/local/domain/4\0tok\0');
    const seen: string[] = [];
    xs.dom0.watch('/local/domain/4', (p) => seen.push(p));
    tick();
    seen.length = 0;
    const value = xs.dom0.transaction((tx) => {
      tx.write('/local/domain/4/name', 'g');
      tx.write('/local/domain/4/cpu/0/availability', 'online');
      tx.setPerms('/local/domain/4', ['n0', 'r4']);
      expect(tx.read('/local/domain/4/name')).toBe('g');
      expect(tx.directory('/local/domain/4')).toEqual(['name', 'cpu']);
      expect(xs.dom0.read('/local/domain/4/name')).toBeUndefined();
      expect(guest.read('/local/domain/4/name')).toBe('ERR:ENOENT');
      expect(seen).toEqual([]);
      expect(guest.conn.take()).toEqual([]);
      return 42;
    });
    expect(value).toBe(42);
    expect(xs.dom0.read('/local/domain/4/name')).toBe('g');
    expect(xs.dom0.getPerms('/local/domain/4')).toEqual(['n0', 'r4']);
    expect(seen).toEqual(['/local/domain/4/name', '/local/domain/4/cpu/0/availability', '/local/domain/4']);
    expect(guest.conn.take().map((m) => m.body)).toEqual(['/local/domain/4/name\0tok\0', '/local/domain/4/cpu/0/availability\0tok\0', '/local/domain/4\0tok\0']);
  });

  it('an exception abandons every write and fires nothing', () => {
    const { xs, tick } = setup();
    xs.dom0.write('/vm/u/name', 'old');
    const seen: string[] = [];
    xs.dom0.watch('/', (p) => seen.push(p));
    tick();
    seen.length = 0;
    const before = xs.nodeCount();
    expect(() =>
      xs.dom0.transaction((tx) => {
        tx.write('/vm/u/name', 'new');
        tx.write('/local/domain/9/a', 'x');
        tx.rm('/vm/u');
        throw new Error('libxl failed');
      }),
    ).toThrow('libxl failed');
    expect(xs.dom0.read('/vm/u/name')).toBe('old');
    expect(xs.dom0.read('/local/domain/9/a')).toBeUndefined();
    expect(xs.dom0.directory('/')).toEqual(['tool', 'vm']);
    expect(xs.nodeCount()).toBe(before);
    expect(seen).toEqual([]);
  });

  it('errors inside are GuestErrors and abandon the transaction', () => {
    const { xs } = setup();
    expect(code(() => xs.dom0.transaction((tx) => {
      tx.write('/ok', '1');
      tx.write('/bad//path', '1');
    }))).toBe('EINVAL');
    expect(xs.dom0.read('/ok')).toBeUndefined();
  });

  it('a domain home written and removed in transactions leaves the store as it was (and consistent)', () => {
    const { xs, engine } = setup();
    const before = xs.nodeCount();
    for (let d = 1; d <= 50; d++) {
      xs.dom0.transaction((tx) => {
        tx.write(`/vm/uuid-${d}/name`, `g${d}`);
        tx.write(`/local/domain/${d}/name`, `g${d}`);
        tx.setPerms(`/local/domain/${d}`, ['n0', `r${d}`]);
        tx.write(`/local/domain/${d}/control/shutdown`, '');
        tx.setPerms(`/local/domain/${d}/control/shutdown`, [`n${d}`]);
      });
    }
    expect(xs.dom0.directory('/local/domain')).toHaveLength(50);
    for (let d = 1; d <= 50; d += 2) {
      xs.dom0.transaction((tx) => {
        tx.rm(`/local/domain/${d}`);
        tx.rm(`/vm/uuid-${d}`);
      });
    }
    expect(xs.dom0.directory('/local/domain')).toEqual(Array.from({ length: 25 }, (_, i) => String(2 * i + 2)));
    expect(engine.store.check()).toEqual([]);
    for (let d = 2; d <= 50; d += 2) {
      xs.dom0.rm(`/local/domain/${d}`);
      xs.dom0.rm(`/vm/uuid-${d}`);
    }
    xs.dom0.rm('/local');
    xs.dom0.rm('/vm');
    expect(xs.nodeCount()).toBe(before);
    expect(engine.store.check()).toEqual([]);
  });
});

describe('Xenstore.dom0.watch', () => {
  it('fires once after registration (not during it), then for the node and its subtree; the unwatcher stops it', () => {
    const { xs, tick } = setup();
    const seen: string[] = [];
    const off = xs.dom0.watch('/local/domain/1', (p) => seen.push(p));
    expect(seen).toEqual([]);
    tick();
    expect(seen).toEqual(['/local/domain/1']);
    xs.dom0.write('/local/domain/1/memory/target', '1024');
    xs.dom0.write('/local/domain/2/x', '');
    xs.dom0.write('/local/domain/10', '');
    expect(seen).toEqual(['/local/domain/1', '/local/domain/1/memory/target']);
    xs.dom0.rm('/local/domain');
    expect(seen.at(-1)).toBe('/local/domain/1');
    off();
    xs.dom0.write('/local/domain/1/y', '');
    expect(seen).toHaveLength(3);
  });

  it('an unwatcher called before the initial event cancels it', () => {
    const { xs, tick } = setup();
    const seen: string[] = [];
    xs.dom0.watch('/a', (p) => seen.push(p))();
    tick();
    expect(seen).toEqual([]);
  });

  it('rm of an ancestor fires watches below it with their own path, and only those', () => {
    const { xs, tick } = setup();
    const seen: string[] = [];
    for (const p of ['/x/a/b', '/x/a/c/d', '/x/ab', '/y']) xs.dom0.watch(p, (e) => seen.push(`${p}:${e}`));
    xs.dom0.write('/x/a/b', '');
    tick();
    seen.length = 0;
    xs.dom0.rm('/x/a');
    expect(seen.sort()).toEqual(['/x/a/b:/x/a/b', '/x/a/c/d:/x/a/c/d']);
  });

  it('@introduceDomain / @releaseDomain fire on introduce and release; bad special paths are EINVAL', () => {
    const calls: string[] = [];
    const { xs, tick } = setup({ introduce: (d, g, p) => calls.push(`intro ${d} ${g} ${p}`), release: (d) => calls.push(`release ${d}`) });
    const seen: string[] = [];
    xs.dom0.watch('@introduceDomain', (p) => seen.push(p));
    xs.dom0.watch('@releaseDomain', (p) => seen.push(p));
    tick();
    seen.length = 0;
    xs.introduce(5, 0xfeffc, 3);
    expect(seen).toEqual(['@introduceDomain']);
    expect(xs.isIntroduced(5)).toBe(true);
    xs.release(5);
    expect(seen).toEqual(['@introduceDomain', '@releaseDomain']);
    expect(xs.isIntroduced(5)).toBe(false);
    expect(calls).toEqual(['intro 5 1044476 3', 'release 5']);
    expect(code(() => xs.dom0.watch('@other', () => {}))).toBe('EINVAL');
  });
});

describe('Xenstore.introduce / release', () => {
  it('as XS_INTRODUCE: a bad port is EINVAL, another ring for a known domain EINVAL, a refusing transport its errno', () => {
    const { xs } = setup({
      introduce: (domid) => {
        if (domid === 9) throw new GuestError('ENOENT', 'no domain 9');
      },
      release: () => {},
    });
    expect(code(() => xs.introduce(1, 10, 0))).toBe('EINVAL');
    xs.introduce(1, 10, 4);
    expect(() => xs.introduce(1, 10, 5)).not.toThrow();
    expect(code(() => xs.introduce(1, 11, 4))).toBe('EINVAL');
    expect(code(() => xs.introduce(9, 10, 4))).toBe('ENOENT');
    expect(xs.isIntroduced(9)).toBe(false);
    expect(code(() => xs.release(0))).toBe('EINVAL');
    expect(code(() => xs.release(2))).toBe('ENOENT');
    expect(xs.isIntroduced(0)).toBe(true);
  });

  it('release drops the domain\'s sessions\' watches and transactions, not other domains\'', () => {
    const { xs, engine } = setup({ introduce: () => {}, release: () => {} });
    xs.introduce(3, 1, 1);
    xs.introduce(4, 1, 1);
    const a = new Client(engine, 3);
    const b = new Client(engine, 4);
    a.call(XsType.WATCH, '@releaseDomain\0t\0');
    b.call(XsType.WATCH, '@releaseDomain\0t\0');
    xs.dom0.setPerms('@releaseDomain', ['n0', 'r3', 'r4']);
    expect(engine.watches.size).toBe(2);
    const tx = a.txStart();
    xs.release(3);
    expect(a.read('/tool', tx)).toBe('ERR:ENOENT');
    expect(engine.watches.size).toBe(1);
    expect(b.conn.take().map((m) => m.body)).toEqual(['@releaseDomain\0t\0']);
    expect(a.conn.take()).toEqual([]);
  });
});
