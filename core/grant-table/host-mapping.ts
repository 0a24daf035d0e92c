/** Grant host mappings: a P2M entry of an auto-translated mapper, or an L1 PTE in a PV mapper's page tables. */
import { P2mType, type MachineMemory, type P2m } from '../api/memory.js';
import { GNTMAP, GNTST } from '../public/grant-table.js';
import { PAGE_SIZE } from '../public/memory.js';
import { PTE_A, PTE_ADDR_MASK_HI, PTE_D, PTE_NX_HI, PTE_P, PTE_PS, PTE_RW, PTE_US } from '../public/paging.js';
import type { GuestFrame, MachineFrame } from '../public/types.js';
import { LEVEL_SPAN, foldCanonical } from '../mmu/address.js';
import { OldEntry, type Maptrack } from './maptrack.js';

/** Guest-physical addresses have 48 bits (4-level EPT). */
const GFN_LIMIT = 2 ** 36;
const TWO_20 = 2 ** 20;

/** What the host-mapping code needs of the machine. */
export interface HostMappingContext {
  readonly memory: MachineMemory;
}

// --- auto-translated mappers: the P2M ------------------------------------------------------------

/** P2M types a grant may be mapped over (restored at unmap); anything else is refused like Xen's p2m_add_page. */
function replaceable(type: number): boolean {
  return type === P2mType.ram_rw || type === P2mType.ram_ro || type === P2mType.ram_logdirty || type === P2mType.populate_on_demand;
}

/**
 * Maps the granter's `mfn` at the gfn of `gpa` in the mapper's P2M as grant_map_rw/ro, remembering
 * what was there in slot `h`. GNTST_bad_virt_addr outside the 48-bit guest-physical space,
 * GNTST_general_error over a grant, foreign or MMIO entry.
 */
export function createP2mMapping(p2m: P2m, mt: Maptrack, h: number, gpa: number, mfn: number, readonly: boolean): number {
  if (!(gpa >= 0 && gpa < GFN_LIMIT * PAGE_SIZE)) return GNTST.bad_virt_addr;
  const gfn = Math.floor(gpa / PAGE_SIZE) as GuestFrame;
  const oldMfn = p2m.mfnOf(gfn);
  if (oldMfn >= 0) {
    const oldType = p2m.typeOf(gfn);
    if (!replaceable(oldType)) return GNTST.general_error;
    mt.oldKind[h] = OldEntry.p2m;
    mt.old0[h] = oldMfn;
    mt.old1[h] = oldType;
  } else {
    mt.oldKind[h] = OldEntry.none;
  }
  p2m.set(gfn, mfn as MachineFrame, readonly ? P2mType.grant_map_ro : P2mType.grant_map_rw);
  return GNTST.okay;
}

/** Whether the gfn of `gpa` still holds the grant mapping of `mfn` (replace_grant_p2m_mapping's check). */
export function p2mMapsGrant(p2m: P2m, gpa: number, mfn: number): boolean {
  if (!(gpa >= 0 && gpa < GFN_LIMIT * PAGE_SIZE)) return false;
  const gfn = Math.floor(gpa / PAGE_SIZE) as GuestFrame;
  const type = p2m.typeOf(gfn);
  return (type === P2mType.grant_map_rw || type === P2mType.grant_map_ro) && p2m.mfnOf(gfn) === mfn;
}

/** Puts back what slot `h`'s mapping replaced (if the mapper still owns that frame), else leaves the gfn unmapped. */
export function restoreP2mEntry(p2m: P2m, memory: MachineMemory, mt: Maptrack, h: number): void {
  const gfn = Math.floor(mt.hostAddr[h]! / PAGE_SIZE) as GuestFrame;
  const oldMfn = mt.old0[h]! as MachineFrame;
  if (mt.oldKind[h] === OldEntry.p2m && (mt.old1[h] === P2mType.populate_on_demand || memory.ownerOf(oldMfn) === p2m.domid)) {
    p2m.set(gfn, oldMfn, mt.old1[h]! as P2mType);
  } else {
    p2m.clear(gfn);
  }
}

// --- PV mappers: L1 page-table entries in machine frames -----------------------------------------

/**
 * The machine address of the L1 entry for `va` under `cr3`, walking tables that must all be frames of
 * `owner`. −1 when a level is missing, a large page covers `va`, or a table is not the owner's.
 */
export function findL1Entry(memory: MachineMemory, owner: number, cr3: number, va: number): number {
  let table = Math.floor(cr3 / PAGE_SIZE) % (2 ** 40);
  for (let level = 4; ; level--) {
    if (memory.ownerOf(table as MachineFrame) !== owner) return -1;
    const words = memory.frameWords(table as MachineFrame);
    const i = ((va / LEVEL_SPAN[level]!) & 511) << 1;
    if (level === 1) return table * PAGE_SIZE + i * 4;
    const lo = words[i]!;
    if ((lo & PTE_P) === 0 || (lo & PTE_PS) !== 0) return -1;
    table = (words[i + 1]! & PTE_ADDR_MASK_HI) * TWO_20 + (lo >>> 12);
  }
}

/**
 * Writes the PTE for a grant mapping (create_grant_pv_mapping): at the L1 entry of virtual address
 * `addr` under `cr3`, or, with GNTMAP_contains_pte, at machine address `addr`. The old entry is kept in
 * slot `h`; NX is set when the vCPU has EFER.NXE. GNTST_bad_virt_addr for a non-canonical address; GNTST_general_error when there is no L1
 * table, the PTE is not in a frame of the mapper, is misaligned, or already maps another domain's frame.
 */
export function createPteMapping(c: HostMappingContext, mapper: number, cr3: number, nx: boolean, mt: Maptrack, h: number, addr: number, flags: number, mfn: number): number {
  const memory = c.memory;
  let maddr: number;
  if ((flags & GNTMAP.contains_pte) !== 0) {
    if (!(Number.isSafeInteger(addr) && addr >= 0 && addr % 8 === 0)) return GNTST.general_error;
    if (memory.ownerOf(Math.floor(addr / PAGE_SIZE) as MachineFrame) !== mapper) return GNTST.general_error;
    maddr = addr;
  } else {
    const va = foldCanonical(addr);
    if (va < 0) return GNTST.bad_virt_addr;
    maddr = findL1Entry(memory, mapper, cr3, va);
    if (maddr < 0) return GNTST.general_error;
  }
  const words = memory.frameWords(Math.floor(maddr / PAGE_SIZE) as MachineFrame);
  const i = (maddr % PAGE_SIZE) >>> 2;
  const lo = words[i]!;
  const hi = words[i + 1]!;
  if ((lo & PTE_P) !== 0) {
    const old = (hi & PTE_ADDR_MASK_HI) * TWO_20 + (lo >>> 12);
    if (memory.ownerOf(old as MachineFrame) !== mapper) return GNTST.general_error;
    mt.oldKind[h] = OldEntry.pte;
    mt.old0[h] = lo;
    mt.old1[h] = hi;
  } else {
    mt.oldKind[h] = OldEntry.none;
  }
  const rw = (flags & GNTMAP.readonly) === 0 ? PTE_RW : 0;
  const user = (flags & GNTMAP.application_map) !== 0 ? PTE_US : 0;
  words[i] = ((mfn % TWO_20) * PAGE_SIZE + (PTE_P | rw | user | PTE_A | PTE_D)) >>> 0;
  words[i + 1] = (Math.floor(mfn / TWO_20) | (nx ? PTE_NX_HI : 0)) >>> 0;
  mt.pteMaddr[h] = maddr;
  return GNTST.okay;
}

/** Whether the PTE at `maddr` still maps `mfn` (replace_grant_pv_mapping's check). */
export function pteMapsFrame(memory: MachineMemory, maddr: number, mfn: number): boolean {
  const words = memory.frameWords(Math.floor(maddr / PAGE_SIZE) as MachineFrame);
  const i = (maddr % PAGE_SIZE) >>> 2;
  const lo = words[i]!;
  return (lo & PTE_P) !== 0 && (words[i + 1]! & PTE_ADDR_MASK_HI) * TWO_20 + (lo >>> 12) === mfn;
}

/** The PTE slot `h` wrote: back to what it replaced when that frame is still the mapper's, else not present. */
export function restorePte(memory: MachineMemory, mapper: number, mt: Maptrack, h: number): void {
  const maddr = mt.pteMaddr[h]!;
  const frame = Math.floor(maddr / PAGE_SIZE) as MachineFrame;
  if (memory.ownerOf(frame) !== mapper) return;
  const words = memory.frameWords(frame);
  const i = (maddr % PAGE_SIZE) >>> 2;
  const lo = mt.old0[h]!;
  const hi = mt.old1[h]!;
  const oldFrame = (hi & PTE_ADDR_MASK_HI) * TWO_20 + (lo >>> 12);
  if (mt.oldKind[h] === OldEntry.pte && memory.ownerOf(oldFrame as MachineFrame) === mapper) {
    words[i] = lo;
    words[i + 1] = hi;
  } else {
    words[i] = 0;
    words[i + 1] = 0;
  }
}

/** Makes the PTE slot `h` wrote not present (a revoked mapping: later accesses fault). */
export function clearPte(memory: MachineMemory, mapper: number, mt: Maptrack, h: number): void {
  const maddr = mt.pteMaddr[h]!;
  const frame = Math.floor(maddr / PAGE_SIZE) as MachineFrame;
  if (memory.ownerOf(frame) !== mapper) return;
  const words = memory.frameWords(frame);
  const i = (maddr % PAGE_SIZE) >>> 2;
  words[i] = 0;
  words[i + 1] = 0;
}

