/**
 * The PV memory-management contract (Xen's arch/x86/mm.c for PV guests): every machine frame a PV guest
 * uses as a page table carries a type (L1..L4) validated by the core, and the guest changes its
 * tables only through mmu_update / mmuext_op / update_va_mapping. The domain builder uses this API to
 * install the initial tables.
 */
import type { MachineFrame } from '../public/types.js';
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
  /** machine_to_phys_mapping[mfn] (the M2P), or −1 (INVALID_M2P_ENTRY) when unset. */
  m2p(mfn: MachineFrame): number;
  /** MMU_MACHPHYS_UPDATE on behalf of the builder: the frame's owner must be `domid`. */
  setM2p(domid: number, mfn: MachineFrame, pfn: number): void;
  stats(domid: number): PvMmStats;
}
export const PvMm = token<PvMm>('PvMm');
