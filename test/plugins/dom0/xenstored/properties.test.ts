import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Children } from '../../../../plugins/dom0/xenstored/children.js';
import { bytesHash, isValidNodename, pathHash } from '../../../../plugins/dom0/xenstored/paths.js';
import { XsStore } from '../../../../plugins/dom0/xenstored/store.js';
import { formatPerm, parsePerm } from '../../../../plugins/dom0/xenstored/permissions.js';
import { XsType, encodeMessage } from '../../../../plugins/dom0/xenstored/wire.js';
import { FakeConn, newEngine } from './helpers.js';

function run(chunks: Uint8Array[]): string {
  const e = newEngine();
  const conn = new FakeConn(0);
  const s = e.connect(conn);
  for (const c of chunks) s.receive(c);
  return Buffer.concat(conn.out).toString('hex');
}

describe('properties', () => {
  it('any split of a valid byte stream gives the same replies', () => {
    const msgs = [
      encodeMessage(XsType.WRITE, 1, 0, '/a/b\0v'), encodeMessage(XsType.WATCH, 2, 0, '/a\0t\0'),
      encodeMessage(XsType.READ, 3, 0, '/a/b\0'), encodeMessage(XsType.DIRECTORY, 4, 0, '/a\0'),
      encodeMessage(XsType.RM, 5, 0, '/a\0'), encodeMessage(99, 6, 0, ''),
    ];
    const stream = Buffer.concat(msgs);
    const whole = run([stream]);
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 20 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const chunks: Uint8Array[] = [];
      let prev = 0;
      for (const p of [...points, stream.length]) { chunks.push(stream.subarray(prev, p)); prev = p; }
      expect(run(chunks)).toBe(whole);
    }));
  });
  it('garbage never throws out of receive', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      expect(() => run([bytes])).not.toThrow();
    }));
  });
  it('paths validate as C is_valid_nodename says', () => {
    const seg = fc.stringMatching(/^[A-Za-z0-9_@-]{1,8}$/);
    fc.assert(fc.property(fc.array(seg, { minLength: 1, maxLength: 6 }), (segs) => {
      const p = `/${segs.join('/')}`;
      expect(isValidNodename(p, true)).toBe(true);
      expect(isValidNodename(`${p}/`, true)).toBe(false);
      expect(isValidNodename(p.replace('/', '//'), true)).toBe(false);
      expect(isValidNodename(p.slice(1), true)).toBe(false);
      expect(isValidNodename(`${p} x`, true)).toBe(false);
    }));
    expect(isValidNodename('/', true)).toBe(true);
    expect(isValidNodename(`/local/domain/3/${'a'.repeat(2048)}`, false)).toBe(true);
    expect(isValidNodename(`/local/domain/3/${'a'.repeat(2049)}`, false)).toBe(false);
  });
  it('perm strings round-trip', () => {
    fc.assert(fc.property(fc.constantFrom('n', 'r', 'w', 'b'), fc.integer({ min: 0, max: 0x7ff4 }), (l, d) => {
      const p = parsePerm(`${l}${d}`);
      expect(p).not.toBeNull();
      expect(formatPerm(p!)).toBe(`${l}${d}`);
    }));
    for (const bad of ['', 'x1', 'r', 'r1a', 'rr']) expect(parsePerm(bad)).toBeNull();
    expect(parsePerm('r0x10')).toEqual({ domid: 16, access: 1 });
  });
});

describe('the store\'s byte-keyed lookup', () => {
  it('finds by path bytes exactly what it finds by path string, through any puts and deletes', () => {
    const seg = fc.constantFrom('a', 'b', 'local', 'domain', '1', '12', 'device', 'vbd', 'x_y-z');
    const path = fc.array(seg, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join('/')}`);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), path), { maxLength: 80 }), fc.array(path, { maxLength: 20 }), (ops, probes) => {
        const store = new XsStore();
        for (const [add, p] of ops) {
          if (add) store.put(p, { value: '', perms: [{ domid: 0, access: 0 }], children: Children.EMPTY, gen: 0 });
          else store.del(p);
        }
        for (const p of [...ops.map(([, q]) => q), ...probes, '/', '/tool']) {
          const b = new Uint8Array([9, ...Buffer.from(p, 'latin1'), 0]);
          expect(bytesHash(b, 1, b.length - 1)).toBe(pathHash(p));
          expect(store.getBytes(b, 1, b.length - 1, bytesHash(b, 1, b.length - 1))).toBe(store.get(p));
        }
      }),
    );
  });
  it('keeps finding every node as the index grows and entries are deleted from the middle of probe runs', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 5999 }), { minLength: 1000, maxLength: 4000 }), (dels) => {
        const store = new XsStore();
        const path = (i: number): string => `/local/domain/${i % 97}/k${i}`;
        for (let i = 0; i < 6000; i++) store.put(path(i), { value: '', perms: [{ domid: 0, access: 0 }], children: Children.EMPTY, gen: 0 });
        for (const d of dels) store.del(path(d));
        for (let i = 0; i < 6000; i++) {
          const b = Buffer.from(path(i), 'latin1');
          expect(store.getBytes(b, 0, b.length, bytesHash(b, 0, b.length))).toBe(store.get(path(i)));
        }
      }),
      { numRuns: 5 },
    );
  });
  it('hashes agree on any bytes, and differ for paths that differ only early (domain ids)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      expect(bytesHash(b, 0, b.length)).toBe(pathHash(Buffer.from(b).toString('latin1')));
    }));
    const hashes = new Set(Array.from({ length: 1000 }, (_, d) => pathHash(`/local/domain/${d}/device/vbd/51712/state`)));
    expect(hashes.size).toBeGreaterThan(995);
  });
});
