/** PV memory management ABI (xen/include/public/xen.h, Xen 4.17): mmu_update, mmuext_op, update_va_mapping. No logic. */

/** `struct mmu_update` (16 B): IN `ptr` (machine address of the entry; bits 1:0 the command), IN `val` (the new contents). */
export const MmuUpdate = { ptr: 0, val: 8, size: 16 } as const;

/** `mmu_update` commands, in `ptr[1:0]` (Xen decodes `ptr & 7`). */
export const MMU = {
  NORMAL_PT_UPDATE: 0,
  MACHPHYS_UPDATE: 1,
  PT_UPDATE_PRESERVE_AD: 2,
  PT_UPDATE_NO_TRANSLATE: 3,
} as const;

/** Set in `count` by a continuation of mmu_update / mmuext_op: `pdone` already holds the work done. */
export const MMU_UPDATE_PREEMPTED = 0x80000000;

/** `struct mmuext_op` (24 B): IN `cmd` u32, pad, IN `arg1` (mfn / linear_addr), IN `arg2` (nr_ents / vcpumask / src_mfn). */
export const MmuextOp = { cmd: 0, arg1: 8, arg2: 16, size: 24 } as const;

/** `MMUEXT_*` commands. */
export const MMUEXT = {
  PIN_L1_TABLE: 0,
  PIN_L2_TABLE: 1,
  PIN_L3_TABLE: 2,
  PIN_L4_TABLE: 3,
  UNPIN_TABLE: 4,
  NEW_BASEPTR: 5,
  TLB_FLUSH_LOCAL: 6,
  INVLPG_LOCAL: 7,
  TLB_FLUSH_MULTI: 8,
  INVLPG_MULTI: 9,
  TLB_FLUSH_ALL: 10,
  INVLPG_ALL: 11,
  FLUSH_CACHE: 12,
  SET_LDT: 13,
  NEW_USER_BASEPTR: 15,
  CLEAR_PAGE: 16,
  COPY_PAGE: 17,
  FLUSH_CACHE_GLOBAL: 18,
  MARK_SUPER: 19,
  UNMARK_SUPER: 20,
} as const;

/** update_va_mapping `flags`: the flush type in bits 1:0, then LOCAL (0), ALL (4), or a pointer to a vCPU bitmap. */
export const UVMF = {
  NONE: 0,
  TLB_FLUSH: 1,
  INVLPG: 2,
  FLUSHTYPE_MASK: 3,
  LOCAL: 0,
  ALL: 4,
} as const;

/** machine_to_phys_mapping[] value of a frame with no pseudo-physical frame. */
export const INVALID_M2P_ENTRY = -1;

/** The L4 slots Xen keeps for itself in every 64-bit PV guest's root table (ROOT_PAGETABLE_{FIRST,LAST}_XEN_SLOT). */
export const ROOT_PAGETABLE_FIRST_XEN_SLOT = 256;
export const ROOT_PAGETABLE_LAST_XEN_SLOT = 271;
