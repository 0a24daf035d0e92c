/** The console ring codec and the bounded log, on a plain page: properties over free-running indexes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GuestMemory } from '../../../../core/api/index.js';
import { XENCONS_IN_SIZE, XENCONS_OUT_SIZE, XenconsInterface } from '../../../../core/public/index.js';
import { ConsoleRing, CorruptRingError } from '../../../../plugins/dom0/xenconsoled/ring.js';
import { OutputLog } from '../../../../plugins/dom0/xenconsoled/output-log.js';

const GFN = 3;
const BASE = GFN * 4096;

/** Guest memory of frames 3 only: anything else throws, like an unmapped page. */
function page(): { mem: GuestMemory; bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(4096);
  const view = new DataView(bytes.buffer);
  const at = (addr: number, len: number): number => {
    if (addr < BASE || addr + len > BASE + 4096) throw new Error(`unmapped ${addr.toString(16)}`);
    return addr - BASE;
  };
  const mem: GuestMemory = {
    read: (addr, length) => bytes.slice(at(addr, length), at(addr, length) + length),
    write: (addr, data) => bytes.set(data, at(addr, data.length)),
    readU32: (addr) => view.getUint32(at(addr, 4), true),
    writeU32: (addr, value) => view.setUint32(at(addr, 4), value, true),
  };
  return { mem, bytes, view };
}

/** The guest side: writes `data` at out_prod and bumps it. */
function guestWrite(p: ReturnType<typeof page>, data: Uint8Array): void {
  let prod = p.view.getUint32(XenconsInterface.outProd, true);
  for (const b of data) {
    p.bytes[XenconsInterface.out + (prod & (XENCONS_OUT_SIZE - 1))] = b;
    prod = (prod + 1) >>> 0;
  }
  p.view.setUint32(XenconsInterface.outProd, prod, true);
}

/** The guest side: takes everything in in[]. */
function guestRead(p: ReturnType<typeof page>): number[] {
  const out: number[] = [];
  let cons = p.view.getUint32(XenconsInterface.inCons, true);
  const prod = p.view.getUint32(XenconsInterface.inProd, true);
  while (cons !== prod) {
    out.push(p.bytes[XenconsInterface.in + (cons & (XENCONS_IN_SIZE - 1))]!);
    cons = (cons + 1) >>> 0;
  }
  p.view.setUint32(XenconsInterface.inCons, cons, true);
  return out;
}

describe('ConsoleRing', () => {
  it('reads back exactly what the guest wrote, in order, from any starting index (wrapping the ring and 2^32)', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffff_ffff }), fc.array(fc.uint8Array({ minLength: 0, maxLength: XENCONS_OUT_SIZE }), { maxLength: 6 }), (start, writes) => {
        const p = page();
        p.view.setUint32(XenconsInterface.outCons, start, true);
        p.view.setUint32(XenconsInterface.outProd, start, true);
        const ring = new ConsoleRing(p.mem, GFN);
        for (const w of writes) {
          guestWrite(p, w);
          expect(ring.readOut()).toEqual(w);
          expect(p.view.getUint32(XenconsInterface.outCons, true)).toBe(p.view.getUint32(XenconsInterface.outProd, true));
        }
      }),
    );
  });

  it('writes input only as room allows, never past in_cons + 1024', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffff_ffff }), fc.array(fc.tuple(fc.uint8Array({ maxLength: 1500 }), fc.boolean()), { maxLength: 8 }), (start, steps) => {
        const p = page();
        p.view.setUint32(XenconsInterface.inCons, start, true);
        p.view.setUint32(XenconsInterface.inProd, start, true);
        const ring = new ConsoleRing(p.mem, GFN);
        const sent: number[] = [];
        const got: number[] = [];
        let waiting: number[] = [];
        for (const [data, consume] of steps) {
          waiting = [...waiting, ...data];
          const n = ring.writeIn(Uint8Array.from(waiting));
          const used = (p.view.getUint32(XenconsInterface.inProd, true) - p.view.getUint32(XenconsInterface.inCons, true)) >>> 0;
          expect(used).toBeLessThanOrEqual(XENCONS_IN_SIZE);
          sent.push(...waiting.slice(0, n));
          waiting = waiting.slice(n);
          if (consume) got.push(...guestRead(p));
        }
        got.push(...guestRead(p));
        expect(got).toEqual(sent);
      }),
    );
  });

  it('refuses indexes further apart than the ring, without moving them', () => {
    const p = page();
    const ring = new ConsoleRing(p.mem, GFN);
    p.view.setUint32(XenconsInterface.outCons, 10, true);
    p.view.setUint32(XenconsInterface.outProd, 10 + XENCONS_OUT_SIZE + 1, true);
    expect(() => ring.readOut()).toThrow(CorruptRingError);
    expect(p.view.getUint32(XenconsInterface.outCons, true)).toBe(10);
    // prod behind cons is a huge unsigned distance too.
    p.view.setUint32(XenconsInterface.outProd, 5, true);
    expect(() => ring.readOut()).toThrow(/out indexes cons 10 prod 5/);
    p.view.setUint32(XenconsInterface.inProd, XENCONS_IN_SIZE + 1, true);
    expect(() => ring.writeIn(new Uint8Array([1]))).toThrow(CorruptRingError);
    // A full ring (exactly the size apart) is legal.
    p.view.setUint32(XenconsInterface.outProd, 10 + XENCONS_OUT_SIZE, true);
    expect(ring.readOut()).toHaveLength(XENCONS_OUT_SIZE);
  });

  it('probe throws for a page that is not mapped', () => {
    expect(() => new ConsoleRing(page().mem, GFN + 1).probe()).toThrow(/unmapped/);
  });
});

describe('OutputLog', () => {
  it('keeps the last `limit` bytes whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 9000 }), { maxLength: 10 }), (chunks) => {
        const log = new OutputLog(4096);
        const all: number[] = [];
        for (const c of chunks) {
          log.append(c);
          all.push(...c);
          expect(Array.from(log.bytes())).toEqual(all.slice(-4096));
          expect(log.length).toBe(Math.min(all.length, 4096));
        }
      }),
    );
  });

  it('as text, drops a character cut at the front by trimming and one unfinished at the end', () => {
    const log = new OutputLog(4096);
    log.append(new TextEncoder().encode('€'.repeat(1366)));
    const text = log.text();
    expect(log.length).toBe(4096);
    expect(text).toBe('€'.repeat(1365));
    log.append(new Uint8Array([0x41, 0xe2, 0x82]));
    expect(log.text().endsWith('€A')).toBe(true);
  });
});
