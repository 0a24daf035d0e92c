import { describe, expect, it } from 'vitest';
import { hvmSetup } from './helpers.js';
import { GuestError } from '../../../core/api/errors.js';
import { DEFAULT_COST_MODEL } from '../../../core/engine/cost-model.js';
import { DomainGuestMemory } from '../../../core/memory/guest-memory.js';
import { PageTableBuilder, guestTableSpace } from '../../../core/mmu/page-table-builder.js';
import { VcpuGuestAccess } from '../../../core/mmu/vcpu-guest-access.js';
import { VcpuContext } from '../../../core/cpu/vcpu-context.js';
import { X86_CR0_PG, X86_CR0_WP, X86_EFER_NXE } from '../../../core/public/paging.js';
import { domId } from '../../../core/public/types.js';

const VA = 0x7f00_0000_1000;
const COPY = DEFAULT_COST_MODEL.copyPerByte;

/** A paged vCPU over an auto-translated domain; `charged` adds up what each access costs. */
function setup() {
  const s = hvmSetup('hap', 64);
  const regs = new VcpuContext();
  regs.cr0 = X86_CR0_PG | X86_CR0_WP;
  regs.cr3 = s.tables.root;
  regs.cr4 = 0;
  regs.efer = X86_EFER_NXE;
  const charges: number[] = [];
  const access = new VcpuGuestAccess({
    domid: 3,
    vcpu: 0,
    regs,
    mmu: { makeMmu: () => s.mmu },
    phys: new DomainGuestMemory(s.memory, s.p2m),
    cost: DEFAULT_COST_MODEL,
    payer: { charge: (cycles) => charges.push(cycles) },
  });
  /** The byte at guest-physical `gpa`, read straight from the machine frame. */
  const byteAt = (gpa: number) => s.memory.frameBytes(s.ram[Math.floor(gpa / 4096)]!)[gpa % 4096]!;
  return { ...s, regs, access, charges, byteAt };
}

describe('VcpuGuestAccess with paging on', () => {
  it('reads and writes single-page values through the translation', () => {
    const { tables, access, byteAt } = setup();
    tables.map(VA, 0x5000);
    access.writeU32(VA + 8, 0xdeadbeef);
    expect(byteAt(0x5008)).toBe(0xef);
    expect(byteAt(0x500b)).toBe(0xde);
    expect(access.readU32(VA + 8)).toBe(0xdeadbeef);
    expect(access.readU16(VA + 10)).toBe(0xdead);
    access.writeU64(VA + 16, 2 ** 60 + 2 ** 33);
    expect(access.readU64Big(VA + 16)).toBe(2n ** 60n + 2n ** 33n);
    expect(access.readU64(VA + 16)).toBe(2 ** 60 + 2 ** 33);
    access.writeU64(VA + 24, -1);
    expect(access.readU64Big(VA + 24)).toBe(2n ** 64n - 1n);
    access.writeU64Big(VA + 32, -2n);
    expect(access.readU64Big(VA + 32)).toBe(2n ** 64n - 2n);
    access.write(VA + 41, Uint8Array.of(1, 2, 3));
    expect([...access.read(VA + 40, 5)]).toEqual([0, 1, 2, 3, 0]);
  });

  it('charges the translation plus the copy, as the range path does', () => {
    const { tables, access, charges, mmu } = setup();
    tables.map(VA, 0x5000);
    tables.map(VA + 0x1000, 0x6000);
    // The first write walks (and sets the dirty bit); later reads and writes hit.
    access.writeU32(VA, 1);
    const walk = mmu.stats.cycles;
    expect(walk).toBeGreaterThan(DEFAULT_COST_MODEL.tlbMiss);
    expect(charges.pop()).toBe(walk + 4 * COPY);
    access.readU32(VA);
    expect(charges.pop()).toBe(DEFAULT_COST_MODEL.tlbHit + 4 * COPY);
    access.writeU64(VA + 8, 7);
    expect(charges.pop()).toBe(DEFAULT_COST_MODEL.tlbHit + 8 * COPY);
    // Across the page boundary (the range path): a hit, then a walk of the second page like the first.
    access.read(VA + 0xffc, 8);
    expect(charges.pop()).toBe(DEFAULT_COST_MODEL.tlbHit + walk + 8 * COPY);
  });

  it('follows CR0.PG cleared and set again: guest-physical addresses in between', () => {
    const { tables, regs, access, byteAt } = setup();
    tables.map(VA, 0x5000);
    access.writeU32(VA, 0x1111);
    regs.cr0 = X86_CR0_WP;
    access.writeU32(0x5004, 0x2222);
    expect(byteAt(0x5004)).toBe(0x22);
    expect(access.readU32(0x5000)).toBe(0x1111);
    regs.cr0 = X86_CR0_PG | X86_CR0_WP;
    expect(access.readU32(VA + 4)).toBe(0x2222);
    expect(() => access.readU32(0x5000)).toThrow(GuestError);
  });

  it('follows a CR3 switch and a TLB flush, and keeps a stale entry until then', () => {
    const { memory, p2m, tables, regs, access, mmu } = setup();
    tables.map(VA, 0x5000);
    access.writeU32(VA, 0x1111);
    const other = new PageTableBuilder(guestTableSpace(memory, p2m, domId(3), 0x20000));
    other.map(VA, 0x7000);
    regs.cr3 = other.root;
    access.writeU32(VA, 0x2222);
    regs.cr3 = tables.root;
    expect(access.readU32(VA)).toBe(0x1111);
    tables.map(VA, 0x7000);
    expect(access.readU32(VA)).toBe(0x1111);
    mmu.invlpg(VA);
    expect(access.readU32(VA)).toBe(0x2222);
  });

  it('answers a write to a page it has only read through a real translation, which faults when the page is read-only', () => {
    const { tables, access, byteAt, memory, ram } = setup();
    tables.map(VA, 0x5000, { writable: false });
    tables.map(VA + 0x1000, 0x6000);
    memory.frameBytes(ram[5]!)[0] = 7;
    access.writeU32(VA + 0x1000, 5);
    // Several pages in turn, each read again after the others: every read sees its own frame.
    for (let round = 0; round < 3; round++) {
      expect(access.readU32(VA)).toBe(7);
      expect(access.readU32(VA + 0x1000)).toBe(5);
    }
    expect(() => access.writeU32(VA, 1)).toThrow(/cannot write 4 bytes at 0x7f0000001000: L1 entry is read-only/);
    expect(byteAt(0x5000)).toBe(7);
    // A write through a writable page, after reads of it: lands in its frame.
    access.writeU32(VA + 0x1004, 9);
    expect(byteAt(0x6004)).toBe(9);
  });

  it('reads an untouched frame as zeros and turns a page fault into EFAULT', () => {
    const { tables, access, charges } = setup();
    tables.map(VA, 0x9000);
    expect(access.readU64(VA + 0x10)).toBe(0);
    expect(() => access.readU32(VA + 0x2000)).toThrow(GuestError);
    expect(() => access.writeU32(VA + 0x2000, 1)).toThrow(/EFAULT|cannot write 4 bytes at 0x7f0000003000/);
    expect(charges.pop()).toBeGreaterThan(4 * COPY);
  });
});
