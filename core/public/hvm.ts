/** hvm_op (hypercall 34) sub-ops, HVM params and the callback-IRQ encodings (hvm/hvm_op.h, hvm/params.h). */

/** `HVMOP_*`. */
export const HVMOP = {
  set_param: 0,
  get_param: 1,
  set_pci_intx_level: 2,
  set_isa_irq_level: 3,
  set_pci_link_route: 4,
  flush_tlbs: 5,
  pagetable_dying: 9,
  get_time: 10,
  get_mem_type: 15,
  set_evtchn_upcall_vector: 23,
  altp2m: 25,
} as const;

/** `HVM_PARAM_*` indexes (HVM_NR_PARAMS = 39). */
export const HVM_PARAM = {
  CALLBACK_IRQ: 0,
  STORE_PFN: 1,
  STORE_EVTCHN: 2,
  PAE_ENABLED: 4,
  IOREQ_PFN: 5,
  BUFIOREQ_PFN: 6,
  VIRIDIAN: 9,
  TIMER_MODE: 10,
  HPET_ENABLED: 11,
  IDENT_PT: 12,
  DM_DOMAIN: 13,
  ACPI_S_STATE: 14,
  VM86_TSS: 15,
  VPT_ALIGN: 16,
  CONSOLE_PFN: 17,
  CONSOLE_EVTCHN: 18,
  ACPI_IOPORTS_LOCATION: 19,
  NESTEDHVM: 24,
  BUFIOREQ_EVTCHN: 26,
  PAGING_RING_PFN: 27,
  MONITOR_RING_PFN: 28,
  SHARING_RING_PFN: 29,
  TRIPLE_FAULT_REASON: 31,
  IOREQ_SERVER_PFN: 32,
  NR_IOREQ_SERVER_PAGES: 33,
  VM_GENERATION_ID_ADDR: 34,
  ALTP2M: 35,
  X87_FIP_WIDTH: 36,
  VM86_TSS_SIZED: 37,
  MCA_CAP: 38,
} as const;
export const HVM_NR_PARAMS = 39;

/** `struct xen_hvm_param` (16 bytes): domid u16 @0, index u32 @4, value u64 @8. */
export const XenHvmParam = { size: 16, domid: 0, index: 4, value: 8 } as const;

/** HVM_PARAM_CALLBACK_IRQ: the delivery type lives in bits 63:56 of the value. */
export const HVM_PARAM_CALLBACK_TYPE_SHIFT = 56n;
export const HVM_PARAM_CALLBACK_TYPE = {
  /** val[55:0] = a GSI (≠ 0), level-triggered while vCPU 0 has upcall_pending. */
  GSI: 0,
  /** domain[47:32], bus[31:16], devfn[15:8], INTx pin[1:0] (0 = INTA). */
  PCI_INTX: 1,
  /** val[7:0] = an IDT vector injected straight into the vCPU (needs XENFEAT_hvm_callback_vector). */
  VECTOR: 2,
} as const;
/** `struct xen_hvm_evtchn_upcall_vector` (8 bytes): vcpu u32 @0, vector u8 @4. */
export const XenHvmEvtchnUpcallVector = { size: 8, vcpu: 0, vector: 4 } as const;

/** libxc's "special pages" of HVM/PVH guests: pfn = 0xfeff8 + index. */
export const HVM_SPECIAL_PFN_BASE = 0xfeff8;
export const HVM_SPECIAL_PAGE = { PAGING: 0, ACCESS: 1, SHARING: 2, BUFIOREQ: 3, XENSTORE: 4, IOREQ: 5, IDENT_PT: 6, CONSOLE: 7 } as const;
