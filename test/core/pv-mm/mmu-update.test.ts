import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import { DOMID_SELF, Hypercall, MMU, MMUEXT, PAGE_SIZE, PTE_P, PTE_PS, PTE_RW, PTE_US, UVMF, XenErrno, type MachineFrame } from '../../../core/public/index.js';
import { PDONE, REQS, buildPvDomain, entryAddr, mmuUpdate, mmuextOp, pte, pvMmOf, snapshotFrames, type PvDomain } from './helpers.js';

let host: Host;
let a: PvDomain;
let b: PvDomain;
const RW = PTE_P | PTE_RW | PTE_US;
const RO = PTE_P | PTE_US;

beforeEach(async () => {
  ({ host } = await bootTestHost());
  a = buildPvDomain(host, 256);
  b = buildPvDomain(host, 256);
});
afterEach(async () => {
  await host.shutdown();
});

/** Reads a u32 through `d`'s vCPU 0 at virtual address `va`. */
function readVa(d: PvDomain, va: number): number {
  return vcpuOf(host, d.domid).guest.readU32(va);
}

/** The state an attack must not change: every table of the attacker, and all of the victim's frames. */
function untouched(): () => void {
  // The guest's own accesses set Accessed/Dirty in its entries: make them before the snapshot.
  const g = vcpuOf(host, a.domid).guest;
  g.writeU32(REQS, 0);
  g.writeU32(PDONE, 0);
  const frames = [a.l4, a.l3, a.l2, ...a.l1s, ...b.mfns];
  const before = snapshotFrames(host, frames);
  const info = [a.l4, ...a.l1s].map((f) => pvMmOf(host).pageInfo(f as MachineFrame));
  return () => {
    expect(snapshotFrames(host, frames)).toEqual(before);
    expect([a.l4, ...a.l1s].map((f) => pvMmOf(host).pageInfo(f as MachineFrame))).toEqual(info);
  };
}

describe('initial tables (the builder path)', () => {
  it('types every table frame, counts writable mappings, and lets the guest read through its tables', () => {
    const mm = pvMmOf(host);
    expect(mm.pageInfo(a.l4 as MachineFrame)).toEqual({ type: 'l4', typeCount: 1, pinned: false });
    expect(mm.pageInfo(a.l1s[0] as MachineFrame)).toEqual({ type: 'l1', typeCount: 1, pinned: false });
    expect(mm.pageInfo(a.mfns[20] as MachineFrame)).toEqual({ type: 'writable', typeCount: 1, pinned: false });
    expect(mm.m2p(a.mfns[20] as MachineFrame)).toBe(20);
    host.memory.frameWords(a.mfns[20] as MachineFrame)[0] = 0x1234abcd;
    expect(readVa(a, 20 * PAGE_SIZE)).toBe(0x1234abcd);
  });

  it('refuses a base table that maps a page-table frame writable, naming the frame and entry', () => {
    const d = host.domains.create({ mode: 'pv', maxPages: 4, pages: 0 });
    const [l4, l3, l2, l1] = d.allocatePages(4);
    const w = (f: number, i: number, e: [number, number]) => host.memory.frameWords(f as MachineFrame).set(e, 2 * i);
    w(l4!, 0, pte(l3!, RW));
    w(l3!, 0, pte(l2!, RW));
    w(l2!, 0, pte(l1!, RW));
    w(l1!, 5, pte(l2!, RW));
    expect(() => pvMmOf(host).setBaseTable(d.domid, 0, l4!)).toThrow(/EINVAL|L1 entry 5 of mfn/);
    expect(pvMmOf(host).pageInfo(l4!)).toEqual({ type: 'none', typeCount: 0, pinned: false });
    expect(pvMmOf(host).pageInfo(l1!)).toEqual({ type: 'none', typeCount: 0, pinned: false });
  });
});

describe('mmu_update', () => {
  it('remaps a page, flushes the stale translation, and reports done', () => {
    host.memory.frameWords(a.mfns[30] as MachineFrame)[0] = 30;
    host.memory.frameWords(a.mfns[31] as MachineFrame)[0] = 31;
    expect(readVa(a, 30 * PAGE_SIZE)).toBe(30); // now cached in the TLB
    const r = mmuUpdate(host, a.domid, [[entryAddr(a.l1s[0]!, 30), pte(a.mfns[31]!, RW)]]);
    expect(r).toEqual({ rc: 0, done: 1 });
    expect(readVa(a, 30 * PAGE_SIZE)).toBe(31);
    expect(pvMmOf(host).pageInfo(a.mfns[31] as MachineFrame).typeCount).toBe(2);
    expect(pvMmOf(host).pageInfo(a.mfns[30] as MachineFrame).typeCount).toBe(0);
    expect(pvMmOf(host).stats(a.domid).updates).toBe(1);
  });

  it('preserves A/D bits with MMU_PT_UPDATE_PRESERVE_AD', () => {
    const words = host.memory.frameWords(a.l1s[0] as MachineFrame);
    words[2 * 40] = (words[2 * 40]! | 0x60) >>> 0;
    const [lo, hi] = pte(a.mfns[40]!, RO);
    expect(mmuUpdate(host, a.domid, [[entryAddr(a.l1s[0]!, 40) + MMU.PT_UPDATE_PRESERVE_AD, [lo, hi]]]).rc).toBe(0);
    expect(words[2 * 40]! & 0x63).toBe(0x61);
  });

  it('stops a batch at the first refused request, with done counting the ones applied', () => {
    const check = snapshotFrames(host, b.mfns);
    const r = mmuUpdate(host, a.domid, [
      [entryAddr(a.l1s[0]!, 50), pte(a.mfns[51]!, RO)],
      [entryAddr(a.l1s[0]!, 52), pte(b.mfns[0]!, RW)],
      [entryAddr(a.l1s[0]!, 53), pte(a.mfns[51]!, RO)],
    ]);
    expect(r).toEqual({ rc: -XenErrno.EBUSY, done: 1 });
    expect(host.memory.frameWords(a.l1s[0] as MachineFrame)[2 * 50]! >>> 12).toBe(a.mfns[51]);
    expect(host.memory.frameWords(a.l1s[0] as MachineFrame)[2 * 53]! >>> 12).toBe(a.mfns[53]);
    expect(snapshotFrames(host, b.mfns)).toEqual(check);
    expect(pvMmOf(host).stats(a.domid).refused).toBe(1);
  });

  it('writes a frame that is not a table as plain memory', () => {
    expect(mmuUpdate(host, a.domid, [[entryAddr(a.mfns[60]!, 3), [0xcafe, 7]]]).rc).toBe(0);
    expect(Array.from(host.memory.frameWords(a.mfns[60] as MachineFrame).subarray(6, 8))).toEqual([0xcafe, 7]);
  });

  it('sets the M2P with MMU_MACHPHYS_UPDATE', () => {
    expect(mmuUpdate(host, a.domid, [[a.mfns[70]! * PAGE_SIZE + MMU.MACHPHYS_UPDATE, 1234]]).rc).toBe(0);
    expect(pvMmOf(host).m2p(a.mfns[70] as MachineFrame)).toBe(1234);
  });

  it('lets Dom0 update a guest\'s tables (PFD, FD = the guest); a guest doing so to another is EPERM', () => {
    const onBehalf = ((a.domid + 1) << 16) | a.domid;
    expect(mmuUpdate(host, 0, [[entryAddr(a.l1s[0]!, 80), pte(a.mfns[81]!, RO)]], onBehalf)).toEqual({ rc: 0, done: 1 });
    expect(host.memory.frameWords(a.l1s[0] as MachineFrame)[2 * 80]! >>> 12).toBe(a.mfns[81]);
    expect(mmuUpdate(host, 0, [[entryAddr(a.l1s[0]!, 80), pte(b.mfns[0]!, RO)]], onBehalf).rc).toBe(-XenErrno.EBUSY);
    const intoB = ((b.domid + 1) << 16) | DOMID_SELF;
    expect(mmuUpdate(host, a.domid, [[entryAddr(b.l1s[0]!, 80), pte(b.mfns[81]!, RO)]], intoB)).toEqual({ rc: -XenErrno.EPERM, done: 0 });
  });
});

describe('hostile PV guest: refused with Xen errno, nothing changed', () => {
  const cases: [string, () => { rc: number; done: number }, number][] = [
    ['a writable L1 mapping of a page-table frame', () => mmuUpdate(host, a.domid, [[entryAddr(a.l1s[0]!, 90), pte(a.l2, RW)]]), XenErrno.EBUSY],
    ['an L1 entry mapping another domain\'s frame', () => mmuUpdate(host, a.domid, [[entryAddr(a.l1s[0]!, 90), pte(b.mfns[5]!, RO)]]), XenErrno.EBUSY],
    ['an L1 entry mapping a free frame', () => mmuUpdate(host, a.domid, [[entryAddr(a.l1s[0]!, 90), pte(host.memory.totalFrames - 1, RO)]]), XenErrno.EBUSY],
    ['an L1 entry mapping a frame past the end of memory', () => mmuUpdate(host, a.domid, [[entryAddr(a.l1s[0]!, 90), pte(host.memory.totalFrames + 5, RO)]]), XenErrno.EPERM],
    ['an L2 entry pointing to a frame in use as writable', () => mmuUpdate(host, a.domid, [[entryAddr(a.l2, 7), pte(a.mfns[20]!, RW)]]), XenErrno.EINVAL],
    ['PSE in an L2 entry', () => mmuUpdate(host, a.domid, [[entryAddr(a.l2, 7), pte(a.mfns[0]!, RW | PTE_PS)]]), XenErrno.EINVAL],
    ['an L4 entry in Xen\'s slots', () => mmuUpdate(host, a.domid, [[entryAddr(a.l4, 256), pte(a.l3, RW)]]), XenErrno.EINVAL],
    ['mmu_update on a frame the caller does not own', () => mmuUpdate(host, a.domid, [[entryAddr(b.l1s[0]!, 3), pte(b.mfns[9]!, RW)]]), XenErrno.EINVAL],
    ['MACHPHYS_UPDATE of a foreign frame', () => mmuUpdate(host, a.domid, [[b.mfns[3]! * PAGE_SIZE + MMU.MACHPHYS_UPDATE, 3]]), XenErrno.EINVAL],
    ['a foreign domain named without privilege', () => mmuUpdate(host, a.domid, [[entryAddr(a.l1s[0]!, 90), pte(b.mfns[5]!, RO)]], b.domid), XenErrno.EPERM],
    ['a request array in Xen\'s address range', () => ({ rc: host.dispatcher.dispatch(vcpuOf(host, a.domid), Hypercall.mmu_update, [-(2 ** 47), 1, 0, DOMID_SELF]), done: 0 }), XenErrno.EFAULT],
    ['a count that wraps the address space', () => ({ rc: host.dispatcher.dispatch(vcpuOf(host, a.domid), Hypercall.mmuext_op, [2 ** 63, 0x7fffffff, 0, DOMID_SELF]), done: 0 }), XenErrno.EFAULT],
    ['pinning a frame of the wrong type', () => mmuextOp(host, a.domid, [{ cmd: MMUEXT.PIN_L2_TABLE, arg1: a.l1s[0]! }]), XenErrno.EINVAL],
    ['pinning a writable-mapped frame as a table', () => mmuextOp(host, a.domid, [{ cmd: MMUEXT.PIN_L1_TABLE, arg1: a.mfns[20]! }]), XenErrno.EINVAL],
    ['pinning another domain\'s table', () => mmuextOp(host, a.domid, [{ cmd: MMUEXT.PIN_L1_TABLE, arg1: b.l1s[0]! }]), XenErrno.EINVAL],
    ['NEW_BASEPTR to a non-L4', () => mmuextOp(host, a.domid, [{ cmd: MMUEXT.NEW_BASEPTR, arg1: a.l1s[0]! }]), XenErrno.EINVAL],
    ['NEW_BASEPTR to the victim\'s L4', () => mmuextOp(host, a.domid, [{ cmd: MMUEXT.NEW_BASEPTR, arg1: b.l4 }]), XenErrno.EINVAL],
    ['an unknown mmuext command', () => mmuextOp(host, a.domid, [{ cmd: 99 }]), XenErrno.ENOSYS],
  ];
  it.each(cases)('%s', (_name, attack, errno) => {
    const check = untouched();
    const r = attack();
    expect(r.rc).toBe(-errno);
    if (errno !== XenErrno.EFAULT && errno !== XenErrno.EPERM) expect(r.done).toBe(0);
    check();
    expect(readVa(b, 0)).toBe(host.memory.frameWords(b.mfns[0] as MachineFrame)[0]);
  });

  it('unpinning twice fails the second time', () => {
    const l1 = a.mfns[100]!;
    expect(vcpuOf(host, a.domid).hypercall(Hypercall.update_va_mapping, [100 * PAGE_SIZE, pte(l1, RO)[0], UVMF.INVLPG])).toBe(0);
    expect(mmuextOp(host, a.domid, [{ cmd: MMUEXT.PIN_L1_TABLE, arg1: l1 }])).toEqual({ rc: 0, done: 1 });
    expect(pvMmOf(host).pageInfo(l1 as MachineFrame)).toEqual({ type: 'l1', typeCount: 1, pinned: true });
    expect(mmuextOp(host, a.domid, [{ cmd: MMUEXT.UNPIN_TABLE, arg1: l1 }]).rc).toBe(0);
    expect(mmuextOp(host, a.domid, [{ cmd: MMUEXT.UNPIN_TABLE, arg1: l1 }]).rc).toBe(-XenErrno.EINVAL);
    expect(pvMmOf(host).pageInfo(l1 as MachineFrame)).toEqual({ type: 'none', typeCount: 0, pinned: false });
  });

  it('unreadable request arrays are EFAULT with done counting what was read', () => {
    const unmapped = 300 * PAGE_SIZE; // past the domain's 256 pages: no L1 entry
    const g = vcpuOf(host, a.domid).guest;
    g.writeU32(0x11000, 0xdead);
    expect(host.dispatcher.dispatch(vcpuOf(host, a.domid), Hypercall.mmu_update, [unmapped, 1, 0x11000, DOMID_SELF])).toBe(-XenErrno.EFAULT);
    expect(g.readU32(0x11000)).toBe(0);
    // Two requests whose second one lies on the next, unmapped page: the first is applied.
    expect(vcpuOf(host, a.domid).hypercall(Hypercall.update_va_mapping, [40 * PAGE_SIZE, 0, UVMF.INVLPG])).toBe(0);
    const at = 40 * PAGE_SIZE - 16;
    g.writeU64(at, entryAddr(a.l1s[0]!, 33));
    g.writeU64(at + 8, pte(a.mfns[34]!, RO)[0]);
    expect(mmuUpdate(host, a.domid, [])).toEqual({ rc: 0, done: 0 });
    expect(host.dispatcher.dispatch(vcpuOf(host, a.domid), Hypercall.mmu_update, [at, 2, 0x11000, DOMID_SELF])).toBe(-XenErrno.EFAULT);
    expect(g.readU32(0x11000)).toBe(1);
    expect(host.memory.frameWords(a.l1s[0] as MachineFrame)[2 * 33]! >>> 12).toBe(a.mfns[34]);
  });
});

describe('mmuext_op', () => {
  it('builds a new L1 table, hooks it in, and unhooks it: types and counts follow', () => {
    const mm = pvMmOf(host);
    const l1 = a.mfns[110]!;
    // The frame must lose its writable mapping before it can become a table.
    expect(vcpuOf(host, a.domid).hypercall(Hypercall.update_va_mapping, [110 * PAGE_SIZE, pte(l1, RO)[0], UVMF.INVLPG])).toBe(0);
    expect(mmuUpdate(host, a.domid, [[entryAddr(l1, 0), pte(a.mfns[120]!, RW)]]).rc).toBe(0); // plain write while untyped
    expect(mmuextOp(host, a.domid, [{ cmd: MMUEXT.PIN_L1_TABLE, arg1: l1 }]).rc).toBe(0);
    expect(mm.pageInfo(a.mfns[120] as MachineFrame).typeCount).toBe(2);
    expect(mmuUpdate(host, a.domid, [[entryAddr(a.l2, 1), pte(l1, RW)]]).rc).toBe(0);
    expect(mm.pageInfo(l1 as MachineFrame)).toEqual({ type: 'l1', typeCount: 2, pinned: true });
    host.memory.frameWords(a.mfns[120] as MachineFrame)[0] = 0x120;
    expect(readVa(a, 2 ** 21)).toBe(0x120); // VA 2 MiB → L2 entry 1 → the new L1's entry 0
    expect(mmuextOp(host, a.domid, [{ cmd: MMUEXT.UNPIN_TABLE, arg1: l1 }]).rc).toBe(0);
    expect(mmuUpdate(host, a.domid, [[entryAddr(a.l2, 1), [0, 0]]]).rc).toBe(0);
    expect(mm.pageInfo(l1 as MachineFrame).type).toBe('none');
    expect(mm.pageInfo(a.mfns[120] as MachineFrame).typeCount).toBe(1);
    expect(() => readVa(a, 2 ** 21)).toThrow(/not present/);
  });

  it('NEW_BASEPTR to the current L4 only flushes; flush commands from other domains are EPERM', () => {
    expect(mmuextOp(host, a.domid, [{ cmd: MMUEXT.NEW_BASEPTR, arg1: a.l4 }, { cmd: MMUEXT.TLB_FLUSH_ALL }, { cmd: MMUEXT.INVLPG_LOCAL, arg1: 0 }])).toEqual({ rc: 0, done: 3 });
    expect(pvMmOf(host).pageInfo(a.l4 as MachineFrame).typeCount).toBe(1);
    expect(mmuextOp(host, a.domid, [{ cmd: MMUEXT.FLUSH_CACHE }]).rc).toBe(-XenErrno.EACCES);
    expect(mmuextOp(host, a.domid, [{ cmd: MMUEXT.MARK_SUPER }]).rc).toBe(-XenErrno.EOPNOTSUPP);
  });
});

describe('domain death', () => {
  it('drops all type state and M2P entries of the domain, and the other domain carries on', () => {
    const frames = [a.l4, ...a.l1s, a.mfns[20]!];
    host.domains.destroy(a.domid);
    for (const f of frames) expect(pvMmOf(host).pageInfo(f as MachineFrame).typeCount).toBe(0);
    expect(pvMmOf(host).m2p(a.mfns[20] as MachineFrame)).toBe(-1);
    expect(mmuUpdate(host, b.domid, [[entryAddr(b.l1s[0]!, 30), pte(b.mfns[31]!, RW)]]).rc).toBe(0);
  });
});
