import { describe, expect, it } from 'vitest';
import { hvmSetup } from './helpers.js';
import { HostMachineMemory } from '../../../core/memory/machine-memory.js';
import { EptP2m } from '../../../core/memory/p2m.js';
import { Mmu } from '../../../core/mmu/mmu.js';
import { PageTableBuilder, guestTableSpace } from '../../../core/mmu/page-table-builder.js';
import { hapMode } from '../../../core/mmu/modes/hap.js';
import { NestedPageFault } from '../../../core/mmu/faults.js';
import { Access, P2mType } from '../../../core/api/memory.js';
import { PTE_A } from '../../../core/public/paging.js';
import { domId, guestFrame, machineFrame } from '../../../core/public/types.js';

const VA = 0x7f00_0000_1000;

function nested(fn: () => unknown): NestedPageFault {
  try {
    fn();
  } catch (e) {
    if (e instanceof NestedPageFault) return e;
    throw e;
  }
  throw new Error('expected a nested page fault');
}

describe('hap paging mode', () => {
  it('makes 24 memory references for a cold 4 KiB walk over a 4-level EPT', () => {
    const { tables, mmu, ram } = hvmSetup('hap');
    tables.map(VA, 0x5000);
    expect(mmu.translate(VA + 0x10)).toBe(ram[5]! * 4096 + 0x10);
    expect(mmu.stats.memoryRefs).toBe(24);
    expect(mmu.takeCycles()).toBe(20 + 24 * 40);
    mmu.translate(VA + 0x20);
    expect(mmu.stats).toMatchObject({ hits: 1, memoryRefs: 24 });
  });

  it('makes 19 references for a 2 MiB guest page, and 19 for 4 KiB pages over 2 MiB EPT entries', () => {
    const a = hvmSetup('hap');
    a.tables.map(0x4000_0000, 0x20_0000, { size: 2 * 1024 * 1024 });
    a.mmu.translate(0x4000_0000);
    expect(a.mmu.stats.memoryRefs).toBe(3 * 5 + 4);

    const memory = new HostMachineMemory(4096);
    const dom = domId(3);
    const ram = memory.allocate(dom, 1024);
    const p2m = new EptP2m(memory, dom);
    p2m.setLarge(guestFrame(0), ram[0]!, P2mType.ram_rw);
    p2m.setLarge(guestFrame(512), ram[512]!, P2mType.ram_rw);
    const tables = new PageTableBuilder(guestTableSpace(memory, p2m, dom, 0x10000));
    tables.map(VA, 0x3000);
    // Tables live in 4 KiB EPT entries (gfn 0x10000+); only the final access uses a 2 MiB entry.
    const mmu = new Mmu({ domid: dom, vcpu: 0, memory, mode: hapMode, p2m });
    mmu.writeCr3(tables.root);
    expect(mmu.translate(VA)).toBe(ram[3]! * 4096);
    expect(mmu.stats.memoryRefs).toBe(4 * 5 + 3);
  });

  it('raises a nested fault when a guest table is not in the p2m', () => {
    const { tables, mmu, p2m } = hvmSetup('hap');
    tables.map(VA, 0x5000);
    const l1gfn = (tables.entry(VA, 2)![0] >>> 12) as number;
    p2m.clear(guestFrame(l1gfn));
    const f = nested(() => mmu.translate(VA));
    expect(f).toMatchObject({ gpa: l1gfn * 4096, level: 1, access: Access.read, p2mType: P2mType.invalid });
    expect(f.message).toMatch(/^nested page fault at gpa 0x10003000 for 0x00007f0000001000 \(dom3 vcpu0\): read of the L1 guest page table refused by the p2m \(invalid\)/);
  });

  it('raises a nested fault for MMIO emulated by a device model and for writes to ram_ro', () => {
    const { tables, mmu, p2m, memory } = hvmSetup('hap');
    tables.map(VA, 0xfee00000);
    p2m.set(guestFrame(0xfee00), memory.allocate(domId(3), 1)[0]!, P2mType.ram_ro);
    tables.map(VA + 0x1000, 0xfed00000);
    p2m.set(guestFrame(0xfed00), machineFrame(0), P2mType.mmio_dm);
    expect(() => mmu.translate(VA, Access.read)).not.toThrow();
    expect(nested(() => mmu.translate(VA, Access.write))).toMatchObject({ level: 0, p2mType: P2mType.ram_ro, access: Access.write });
    expect(nested(() => mmu.translate(VA + 0x1000, Access.read))).toMatchObject({ level: 0, p2mType: P2mType.mmio_dm });
    expect(mmu.stats.nestedFaults).toBe(2);
  });

  it('refuses to set Accessed in a guest table the p2m maps read-only', () => {
    const { tables, mmu, p2m, memory } = hvmSetup('hap');
    tables.map(VA, 0x5000);
    const l1gfn = tables.entry(VA, 2)![0] >>> 12;
    const l1mfn = p2m.mfnOf(guestFrame(l1gfn));
    p2m.set(guestFrame(l1gfn), machineFrame(l1mfn), P2mType.ram_ro);
    expect(nested(() => mmu.translate(VA))).toMatchObject({ level: 1, access: Access.write, p2mType: P2mType.ram_ro });
    expect(memory.frameWords(machineFrame(l1mfn))[2]! & PTE_A).toBe(0);
  });

  it('flushes the TLB when a present p2m entry changes', () => {
    const { tables, mmu, p2m, memory } = hvmSetup('hap');
    tables.map(VA, 0x5000);
    mmu.translate(VA);
    const [fresh] = memory.allocate(domId(3), 1);
    p2m.set(guestFrame(5), fresh!, P2mType.ram_rw);
    expect(mmu.translate(VA)).toBe(fresh! * 4096);
  });
});
