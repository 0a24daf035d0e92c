/**
 * The PV memory-management contract (Xen's arch/x86/mm.c for PV guests): every machine frame a PV guest
 * uses as a page table carries a type (L1..L4) validated by the core, and the guest changes its
 * tables only through mmu_update / mmuext_op / update_va_mapping. The domain builder uses this API to
 * install the initial tables.
 */
import type { MachineFrame } from '../public/types.js';
import type { PrivilegedInstruction } from './domain.js';
import { token } from './tokens.js';

/** Xen's page types (PGT_*). */
export type PvPageType = 'none' | 'l1' | 'l2' | 'l3' | 'l4' | 'seg-desc' | 'writable';

/** A machine frame's type state (Xen's page_info type_info). */
export interface PvPageInfo {
  readonly type: PvPageType;
  /** References held on the type (mappings as a table or as a writable page, pins, CR3s). */
  readonly typeCount: number;
  readonly pinned: boolean;
}

/** Counters of one PV domain. */
export interface PvMmStats {
  /** mmu_update requests applied. */
  readonly updates: number;
  /** Requests refused (each also logged once per reason with the domain's id). */
  readonly refused: number;
  /** Privileged instructions trapped and emulated. */
  readonly traps: number;
}

export interface PvMm {
  /**
   * Validates the tree under L4 frame `l4` (Xen's get_page_and_type(PGT_l4_page_table)) and makes it
   * vCPU `vcpu`'s CR3, as arch_set_info_guest does for the builder's initial tables. `GuestError('EINVAL')`
   * naming the offending frame and entry when an entry maps a foreign frame, a page table writably, or
   * a frame of the wrong type.
   */
  setBaseTable(domid: number, vcpu: number, l4: MachineFrame): void;
  /** The type state of a machine frame. */
  pageInfo(mfn: MachineFrame): PvPageInfo;
  /**
   * True while a PV page table maps the frame (read-only mappings included) or it is typed: such a frame
   * must not go back to the host (memory_op refuses to release it rather than let another domain get a
   * frame a guest still reaches).
   */
  inUse(mfn: MachineFrame): boolean;
  /** machine_to_phys_mapping[mfn] (the M2P), or −1 (INVALID_M2P_ENTRY) when unset. */
  m2p(mfn: MachineFrame): number;
  /** MMU_MACHPHYS_UPDATE on behalf of the builder: the frame's owner must be `domid`. */
  setM2p(domid: number, mfn: MachineFrame, pfn: number): void;
  /** Forgets the pfn of a frame that left its domain (its M2P entry reads INVALID_M2P_ENTRY again). */
  clearM2p(mfn: MachineFrame): void;
  stats(domid: number): PvMmStats;
  /**
   * A privileged instruction a PV vCPU executed directly: it traps and is emulated as Xen's
   * x86/pv/emul-priv-op.c does (`trapEmulate` charged, the trap counted and traced). Returns the value
   * read (`read-cr*`), else 0. What Xen does not emulate raises #GP as `HardwareError('gp')`.
   */
  emulatePrivileged(domid: number, vcpu: number, insn: PrivilegedInstruction, operand: number): number;
  /**
   * A port or MMIO access by a PV vCPU: it traps and is emulated (counted as a trap). PV domains own
   * no ports or device memory here: reads give all ones, writes are dropped. Returns the value read (writes: 0).
   */
  emulateIo(domid: number, vcpu: number, space: 'pio' | 'mmio', addr: number, size: number, write: boolean, value: number): number;
}
export const PvMm = token<PvMm>('PvMm');
