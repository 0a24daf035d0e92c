import { describe, expect, it } from 'vitest';
import { pvSetup } from './helpers.js';
import { Access } from '../../../core/api/memory.js';
import { PageFault } from '../../../core/mmu/faults.js';
import { Tlb } from '../../../core/mmu/tlb.js';
import { PTE_D, X86_CR4_PGE } from '../../../core/public/paging.js';

const VA = 0x4000_0000;

describe('TLB', () => {
  it('serves a second access from the TLB, and keeps serving a stale entry until invlpg', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0));
    mmu.translate(VA);
    tables.map(VA, maddrOf(1));
    expect(mmu.translate(VA)).toBe(maddrOf(0));
    expect(mmu.stats).toMatchObject({ hits: 1, misses: 1 });
    mmu.invlpg(VA);
    expect(mmu.translate(VA)).toBe(maddrOf(1));
  });

  it('flushes non-global entries on a CR3 write and keeps global ones when CR4.PGE is set', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    mmu.writeCr4(X86_CR4_PGE);
    tables.map(VA, maddrOf(0), { global: true });
    tables.map(VA + 0x1000, maddrOf(1));
    mmu.translate(VA);
    mmu.translate(VA + 0x1000);
    mmu.writeCr3(tables.root);
    expect(mmu.tlb.size).toBe(1);
    mmu.translate(VA);
    expect(mmu.stats.hits).toBe(1);
    mmu.translate(VA + 0x1000);
    expect(mmu.stats.misses).toBe(3);
  });

  it('flushes global entries too on a CR3 write without CR4.PGE, on invlpg and on a PGE toggle', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0), { global: true });
    mmu.translate(VA);
    mmu.writeCr3(tables.root);
    expect(mmu.tlb.size).toBe(0);
    mmu.writeCr4(X86_CR4_PGE);
    mmu.translate(VA);
    mmu.invlpg(VA);
    expect(mmu.tlb.size).toBe(0);
    mmu.translate(VA);
    mmu.writeCr4(0);
    expect(mmu.tlb.size).toBe(0);
  });

  it('re-walks a write through an entry whose Dirty bit was clear, and sets it', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0));
    mmu.translate(VA, Access.read);
    expect(tables.entry(VA, 1)![0] & PTE_D).toBe(0);
    mmu.translate(VA, Access.write);
    expect(mmu.stats.misses).toBe(2);
    expect(tables.entry(VA, 1)![0] & PTE_D).toBe(PTE_D);
    mmu.translate(VA, Access.write);
    expect(mmu.stats).toMatchObject({ misses: 2, hits: 1 });
  });

  it('re-walks an access the cached entry does not allow, reporting the precise fault', () => {
    const { tables, mmu, maddrOf } = pvSetup();
    tables.map(VA, maddrOf(0), { writable: false, user: true });
    mmu.translate(VA, Access.user);
    expect(() => mmu.translate(VA, Access.user | Access.write)).toThrow(PageFault);
    expect(mmu.stats.misses).toBe(2);
  });

  it('drops a 2 MiB translation on invlpg of any address inside it', () => {
    const { tables, mmu } = pvSetup();
    tables.map(0x20_0000, 0x40_0000, { size: 2 * 1024 * 1024 });
    mmu.translate(0x20_0000);
    expect(mmu.translate(0x3f_f000)).toBe(0x5f_f000);
    expect(mmu.stats.hits).toBe(1);
    mmu.invlpg(0x30_0000);
    expect(mmu.tlb.size).toBe(0);
  });

  it('evicts deterministically, round-robin within a set', () => {
    const tlb = new Tlb({ entries: 8, ways: 2 }); // 4 sets
    const stride = 4 * 4096; // same set
    for (let i = 0; i < 3; i++) tlb.insert(i * stride, 4096, 0x1000 * (i + 1), 1, false);
    expect(tlb.size).toBe(2);
    expect(tlb.lookup(0, 0)).toBe(-1);
    expect(tlb.lookup(stride, 0)).toBe(0x2000);
    expect(tlb.lookup(2 * stride, 0)).toBe(0x3000);
    tlb.insert(3 * stride, 4096, 0x4000, 1, false);
    expect(tlb.lookup(stride, 0)).toBe(-1);
    expect(tlb.lookup(2 * stride + 5, 0)).toBe(0x3005);
  });

  it('rejects a geometry that does not make power-of-two sets', () => {
    expect(() => new Tlb({ entries: 12, ways: 4 })).toThrow(/power-of-two/);
  });
});
