import { describe, expect, it } from 'vitest';
import { hvmSetup } from './helpers.js';
import { NestedPageFault, PageFault } from '../../../core/mmu/faults.js';
import { Access, P2mType } from '../../../core/api/memory.js';
import { PTE_A, PTE_D } from '../../../core/public/paging.js';
import { guestFrame, machineFrame } from '../../../core/public/types.js';
import { DEFAULT_COST_MODEL } from '../../../core/engine/cost-model.js';

const VA = 0x7f00_0000_1000;

describe('shadow paging mode', () => {
  it('fills a shadow on the first walk (a VM exit) and walks only the shadow afterwards', () => {
    const { tables, mmu, ram } = hvmSetup('shadow');
    tables.map(VA, 0x5000);
    expect(mmu.translate(VA + 4)).toBe(ram[5]! * 4096 + 4);
    expect(mmu.takeCycles()).toBe(DEFAULT_COST_MODEL.tlbMiss + 8 * DEFAULT_COST_MODEL.pageWalkRef + DEFAULT_COST_MODEL.vmExit);
    mmu.invlpg(VA); // drops the TLB entry and (as Xen's sh_invlpg) the shadow
    mmu.translate(VA);
    mmu.writeCr3(tables.root); // a CR3 write keeps shadows
    mmu.translate(VA);
    expect(mmu.takeCycles()).toBe(DEFAULT_COST_MODEL.tlbMiss + 8 * 40 + DEFAULT_COST_MODEL.vmExit + DEFAULT_COST_MODEL.tlbMiss + 4 * 40);
  });

  it('sets the guest A/D bits when it fills', () => {
    const { tables, mmu } = hvmSetup('shadow');
    tables.map(VA, 0x5000);
    mmu.translate(VA, Access.write);
    expect(tables.entry(VA, 1)![0] & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
    expect(tables.entry(VA, 4)![0] & PTE_A).toBe(PTE_A);
  });

  it('keeps a stale shadow until the guest page-table write is reported, then resyncs', () => {
    const { tables, mmu, ram } = hvmSetup('shadow');
    tables.map(VA, 0x5000);
    mmu.translate(VA);
    tables.map(VA, 0x6000);
    mmu.writeCr3(tables.root);
    expect(mmu.translate(VA)).toBe(ram[5]! * 4096);
    mmu.writeCr3(tables.root);
    mmu.onGuestPageTableWrite(guestFrame(tables.entry(VA, 2)![0] >>> 12));
    expect(mmu.translate(VA)).toBe(ram[6]! * 4096);
  });

  it('delivers guest page faults and p2m refusals like the other modes', () => {
    const { tables, mmu, p2m } = hvmSetup('shadow');
    tables.map(VA, 0x5000, { writable: false });
    expect(() => mmu.translate(VA, Access.write)).toThrow(PageFault);
    tables.map(VA + 0x1000, 0x6000);
    p2m.set(guestFrame(6), machineFrame(p2m.mfnOf(guestFrame(6))), P2mType.ram_ro);
    expect(() => mmu.translate(VA + 0x1000, Access.write)).toThrow(NestedPageFault);
  });
});
