import { describe, expect, it } from 'vitest';
import { pvSetup } from './helpers.js';
import { Access } from '../../../core/api/memory.js';
import { NonCanonicalAddress, PageFault } from '../../../core/mmu/faults.js';
import { Engine, TraceKind } from '../../../core/engine/index.js';
import {
  PFEC_INSN,
  PFEC_PRESENT,
  PFEC_RSVD,
  PFEC_USER,
  PFEC_WRITE,
  PTE_A,
  PTE_D,
  PTE_NX_HI,
  PTE_P,
  PTE_PS,
  PTE_RW,
  X86_CR0_PG,
  X86_EFER_NXE,
} from '../../../core/public/paging.js';

const VA = 0x7f00_0000_1000;
const MB2 = 2 * 1024 * 1024;
const GB1 = 1024 * 1024 * 1024;

function faultOf(fn: () => unknown): PageFault {
  try {
    fn();
  } catch (e) {
    if (e instanceof PageFault) return e;
    throw e;
  }
  throw new Error('expected a page fault');
}

describe('x86-64 page walk (pv-direct)', () => {
  it('translates a 4 KiB page in 4 references', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(2));
    expect(mmu.translate(VA + 0x123)).toBe(maddrOf(2) + 0x123);
    expect(mmu.stats).toMatchObject({ misses: 1, walks: 1, memoryRefs: 4, hits: 0 });
  });

  it('translates a 2 MiB page in 3 references and a 1 GiB page in 2', () => {
    const { tables, mmu } = pvSetup();
    tables.map(0x4000_0000, 0x8000_0000, { size: MB2 });
    tables.map(0x80_0000_0000, 3 * GB1, { size: GB1 });
    expect(mmu.translate(0x4000_0000 + 0x12_3456)).toBe(0x8000_0000 + 0x12_3456);
    expect(mmu.stats.memoryRefs).toBe(3);
    expect(mmu.translate(0x80_0000_0000 + 0x3456_789a)).toBe(3 * GB1 + 0x3456_789a);
    expect(mmu.stats.memoryRefs).toBe(5);
  });

  it('sets Accessed on every level used and Dirty on the leaf of a write only', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0));
    mmu.translate(VA, Access.read);
    for (const level of [4, 3, 2, 1]) expect(tables.entry(VA, level)![0] & PTE_A).toBe(PTE_A);
    expect(tables.entry(VA, 1)![0] & PTE_D).toBe(0);
    mmu.translate(VA, Access.write);
    expect(tables.entry(VA, 1)![0] & PTE_D).toBe(PTE_D);
    for (const level of [4, 3, 2]) expect(tables.entry(VA, level)![0] & PTE_D).toBe(0);
  });

  it('reports a missing entry with its level, address and error code', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    const other = 0x7f00_4000_0000; // same L4 slot, another L3 slot
    tables.map(other, maddrOf(0));
    const f = faultOf(() => mmu.translate(VA, Access.user));
    expect(f.message).toBe('page fault at 0x00007f0000001000 (dom3 vcpu0): L3 entry not present (error code 0x4)');
    expect(f).toMatchObject({ vaddr: VA, errorCode: PFEC_USER, level: 3 });
    expect(faultOf(() => mmu.translate(0x1000, Access.write)).level).toBe(4);
    expect(mmu.stats.pageFaults).toBe(2);
  });

  it('refuses user access to a supervisor page, at any level', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0), { user: false });
    expect(faultOf(() => mmu.translate(VA, Access.user)).errorCode).toBe(PFEC_PRESENT | PFEC_USER);
    tables.map(VA + 0x1000, maddrOf(1), { user: true });
    expect(mmu.translate(VA + 0x1000, Access.user)).toBe(maddrOf(1));
    const [lo, hi] = tables.entry(VA, 3)!;
    tables.setEntry(VA, 3, lo & ~0x4, hi);
    mmu.writeCr3(tables.root);
    expect(faultOf(() => mmu.translate(VA + 0x1000, Access.user)).reason).toBe('is supervisor-only');
  });

  it('refuses writes to read-only pages: user always, supervisor when CR0.WP', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0), { writable: false, user: true });
    expect(faultOf(() => mmu.translate(VA, Access.write | Access.user)).errorCode).toBe(PFEC_PRESENT | PFEC_WRITE | PFEC_USER);
    const f = faultOf(() => mmu.translate(VA, Access.write));
    expect(f.errorCode).toBe(PFEC_PRESENT | PFEC_WRITE);
    expect(f.message).toMatch(/L1 entry is read-only \(error code 0x3\)/);
    mmu.writeCr0(X86_CR0_PG);
    expect(mmu.translate(VA, Access.write)).toBe(maddrOf(0));
    expect(tables.entry(VA, 1)![0] & PTE_D).toBe(PTE_D);
    expect(() => mmu.translate(VA, Access.write | Access.user)).toThrow(PageFault);
  });

  it('refuses instruction fetches from NX pages, and treats NX as reserved without EFER.NXE', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0), { nx: true });
    expect(mmu.translate(VA, Access.read)).toBe(maddrOf(0));
    expect(faultOf(() => mmu.translate(VA, Access.exec)).errorCode).toBe(PFEC_PRESENT | PFEC_INSN);
    mmu.writeEfer(0);
    const f = faultOf(() => mmu.translate(VA, Access.read));
    expect(f.errorCode).toBe(PFEC_PRESENT | PFEC_RSVD);
    expect(f.reason).toBe('has a reserved bit set');
  });

  it('sets RSVD for address bits above the physical width, PS in an L4 entry, and misaligned large pages', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0));
    const [lo, hi] = tables.entry(VA, 1)!;
    tables.setEntry(VA, 1, lo, hi | (1 << 15)); // bit 47
    expect(faultOf(() => mmu.translate(VA)).errorCode).toBe(PFEC_PRESENT | PFEC_RSVD);
    const [l4lo, l4hi] = tables.entry(VA, 4)!;
    tables.setEntry(VA, 4, l4lo | PTE_PS, l4hi);
    expect(faultOf(() => mmu.translate(VA, Access.write))).toMatchObject({ level: 4, errorCode: PFEC_PRESENT | PFEC_RSVD | PFEC_WRITE });
    const { tables: t2, mmu: m2 } = pvSetup();
    t2.setEntry(0x4000_0000, 2, PTE_P | PTE_RW | PTE_PS | 0x8000_2000, 0); // bit 13 set in a 2 MiB leaf
    expect(faultOf(() => m2.translate(0x4000_0000))).toMatchObject({ level: 2, errorCode: PFEC_PRESENT | PFEC_RSVD });
  });

  it('does not set Accessed on the leaf of a faulting access', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0), { writable: false });
    expect(() => mmu.translate(VA, Access.write)).toThrow(PageFault);
    expect(tables.entry(VA, 1)![0] & PTE_A).toBe(0);
    expect(tables.entry(VA, 2)![0] & PTE_A).toBe(PTE_A);
  });

  it('translates upper-half addresses given sign-extended and rejects non-canonical ones', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    const kernel = -(2 ** 47) + 0x20_0000; // 0xffff800000200000
    tables.map(kernel, maddrOf(1));
    expect(mmu.translate(kernel + 8)).toBe(maddrOf(1) + 8);
    expect(faultOf(() => mmu.translate(kernel + 0x1000)).message).toMatch(/^page fault at 0xffff800000201000 /);
    expect(() => mmu.translate(2 ** 47)).toThrow(NonCanonicalAddress);
  });

  it('records guest page faults on the engine trace', () => {
    const engine = new Engine();
    const { mmu } = pvSetup(4, { engine });
    expect(() => mmu.translate(VA, Access.write)).toThrow(PageFault);
    expect(engine.trace.count(TraceKind.PageFault)).toBe(1);
  });

  it('charges tlbHit for a hit and tlbMiss plus pageWalkRef per reference for a walk', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0));
    mmu.takeCycles();
    mmu.translate(VA);
    expect(mmu.takeCycles()).toBe(20 + 4 * 40);
    mmu.translate(VA + 8);
    expect(mmu.takeCycles()).toBe(1);
    expect(mmu.stats.cycles).toBe(181);
  });

  it('reads and writes guest-virtual memory across pages, all or nothing', () => {
    const { tables, mmu, maddrOf, memory, data } = pvSetup();
    tables.map(VA, maddrOf(0));
    tables.map(VA + 0x1000, maddrOf(1), { writable: false });
    expect(() => mmu.writeVirt(VA + 0xffe, new Uint8Array([1, 2, 3, 4]))).toThrow(PageFault);
    expect(memory.isBacked(data[0]!)).toBe(false);
    mmu.writeVirt(VA + 0xffc, new Uint8Array([5, 6, 7, 8]));
    expect([...mmu.readVirt(VA + 0xffc, 6)]).toEqual([5, 6, 7, 8, 0, 0]);
  });

  it('uses the PTE NX bit as bit 63', () => {
    expect(PTE_NX_HI >>> 0).toBe(0x8000_0000);
    expect(X86_EFER_NXE).toBe(0x800);
  });
});
