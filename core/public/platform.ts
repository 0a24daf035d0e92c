/**
 * Platform ABI: Xen's CPUID leaves and hypercall MSR (arch-x86/cpuid.h), the hypercall page, the
 * multicall entry (xen.h), console_io (xen.h), xen_version payloads (version.h) and the hvm_op
 * structures not in hvm.ts (hvm/hvm_op.h). Layouts are byte offsets on x86-64.
 */

/** First Xen CPUID leaf (`XEN_CPUID_FIRST_LEAF`); Xen moves to 0x40000100 when Viridian is enabled. */
export const XEN_CPUID_FIRST_LEAF = 0x4000_0000;
/** Leaves after the first that Xen implements (`XEN_CPUID_MAX_NUM_LEAVES`): base+0 reports base+5. */
export const XEN_CPUID_MAX_NUM_LEAVES = 5;
/** base+0 EBX, ECX, EDX: "XenV", "MMXe", "nVMM" as little-endian u32s → "XenVMMXenVMM". */
export const XEN_CPUID_SIGNATURE_EBX = 0x566e_6558;
export const XEN_CPUID_SIGNATURE_ECX = 0x6558_4d4d;
export const XEN_CPUID_SIGNATURE_EDX = 0x4d4d_566e;
/** base+2 ECX bit 0 (PV only): MMU_PT_UPDATE_PRESERVE_AD is supported. */
export const XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD = 1 << 0;
/** base+4 EAX bits (HVM/PVH). */
export const XEN_HVM_CPUID = {
  APIC_ACCESS_VIRT: 1 << 0,
  X2APIC_VIRT: 1 << 1,
  IOMMU_MAPPINGS: 1 << 2,
  /** EBX holds the vCPU id. */
  VCPU_ID_PRESENT: 1 << 3,
  /** ECX holds the domid. */
  DOMID_PRESENT: 1 << 4,
  EXT_DEST_ID: 1 << 5,
  /** HVMOP_set_evtchn_upcall_vector works. */
  UPCALL_VECTOR: 1 << 6,
} as const;
/** base+5 EBX[7:0] (PV only): machine address width in bits. */
export const XEN_CPUID_MACHINE_ADDRESS_WIDTH_MASK = 0xff;

/** CPUID.1:ECX bit 31: "running under a hypervisor" (reserved on bare metal, set for every Xen guest). */
export const X86_CPUID1_ECX_HYPERVISOR = 0x8000_0000;

/** The hypercall-page MSR (base+2 EBX without Viridian): write the page's address, low 12 bits 0. */
export const XEN_HYPERCALL_MSR = 0x4000_0000;
/** MSRs Xen claims for itself: 0x40000000..0x400002ff (the Viridian range overlaps the first 0x200). */
export const XEN_MSR_FIRST = 0x4000_0000;
export const XEN_MSR_LAST = 0x4000_02ff;

/** The hypercall page: 128 stubs of 32 bytes; hypercall `nr` is called at `page + nr * 32`. */
export const HYPERCALL_PAGE = { stubSize: 32, stubs: 128, size: 4096 } as const;
/** Bytes a hypercall page holds where no stub is written (`int3`: Xen fills the page with 0xCC first). */
export const HYPERCALL_PAGE_FILL = 0xcc;

/** VMX basic exit reasons (Intel SDM vol. 3 app. C) for the exits the platform code raises. */
export const VMX_EXIT_REASON = { CPUID: 10, VMCALL: 18, MSR_READ: 31, MSR_WRITE: 32 } as const;

/** `struct multicall_entry` (64 bytes): op u64 @0, result u64 @8, args[6] u64 @16. */
export const MulticallEntry = { size: 64, op: 0, result: 8, args: 16, nrArgs: 6 } as const;

/** `CONSOLEIO_*` commands of HYPERVISOR_console_io(cmd, count, buffer). */
export const CONSOLEIO = { write: 0, read: 1 } as const;

/** `xen_domain_handle_t`: 16 bytes (the domain's UUID), returned by XENVER_guest_handle. */
export const XEN_DOMAIN_HANDLE_SIZE = 16;

/** `struct xen_compile_info` (144 bytes: 64 + 16 + 32 + 32): four NUL-padded strings. */
export const XenCompileInfo = { size: 144, compiler: 0, compilerSize: 64, compileBy: 64, compileBySize: 16, compileDomain: 80, compileDomainSize: 32, compileDate: 112, compileDateSize: 32 } as const;
/** `struct xen_feature_info` (8 bytes): submap_idx u32 @0 (IN), submap u32 @4 (OUT). */
export const XenFeatureInfo = { size: 8, submapIdx: 0, submap: 4 } as const;
/** `XENFEAT_NR_SUBMAPS`: only submap 0 exists. */
export const XENFEAT_NR_SUBMAPS = 1;
/** `struct xen_platform_parameters` (8 bytes): virt_start u64 @0 (OUT). */
export const XenPlatformParameters = { size: 8, virtStart: 0 } as const;
/** `struct xen_build_id`: len u32 @0 (IN: room in buf), buf[] @4 (OUT). */
export const XenBuildId = { header: 4, len: 0, buf: 4 } as const;
/** x86-64 PV guests' `HYPERVISOR_VIRT_START`, reported by XENVER_platform_parameters. */
export const HYPERVISOR_VIRT_START = 0xffff_8000_0000_0000n;

/** `struct xen_hvm_get_time` (8 bytes): now u64 @0 (OUT, ns since boot). */
export const XenHvmGetTime = { size: 8, now: 0 } as const;
/** `struct xen_hvm_pagetable_dying` (16 bytes): domid u16 @0, pad[3], gpa u64 @8. */
export const XenHvmPagetableDying = { size: 16, domid: 0, gpa: 8 } as const;
/** `struct xen_hvm_get_mem_type` (16 bytes): domid u16 @0 (IN), mem_type u16 @2 (OUT), pad, pfn u64 @8 (IN). */
export const XenHvmGetMemType = { size: 16, domid: 0, memType: 2, pfn: 8 } as const;
/** `hvmmem_type_t`. */
export const HVMMEM = { ram_rw: 0, ram_ro: 1, mmio_dm: 2, unused: 3, ioreq_server: 4 } as const;

/** hvm_op sub-ops not listed in hvm.ts. */
export const HVMOP_EXTRA = { xentrace: 11, guest_request_vm_event: 24 } as const;
/** HVM params retired from hvm.ts's table; HVMOP_get/set_param refuse them with EINVAL. */
export const HVM_PARAM_DEPRECATED = { MEMORY_EVENT_CR0: 20, MEMORY_EVENT_CR3: 21, MEMORY_EVENT_CR4: 22, MEMORY_EVENT_INT3: 23, MEMORY_EVENT_SINGLE_STEP: 25, MEMORY_EVENT_MSR: 30 } as const;
/** HVM_PARAM_VIRIDIAN: the bits that exist (`HVMPV_feature_mask`) and the one that must be set (`HVMPV_base_freq`). */
export const HVMPV_FEATURE_MASK = 0x1fff;
export const HVMPV_BASE_FREQ = 1;
/** HVM_PARAM_TIMER_MODE: highest mode (`HVMPTM_one_missed_tick_pending`). */
export const HVMPTM_MAX = 3;
/** HVM_PARAM_ALTP2M: highest mode (`XEN_ALTP2M_limited`). */
export const XEN_ALTP2M_LIMITED = 3;
/** HVM_PARAM_MCA_CAP: the only bit (`XEN_HVM_MCA_CAP_LMCE`). */
export const XEN_HVM_MCA_CAP_MASK = 1n;
/** HVM_PARAM_VM86_TSS_SIZED: size in bits 63:32 (at least `sizeof(struct tss32)`), Xen's "updated" marker in bit 63. */
export const VM86_TSS = { minSize: 104, maxSize: 104 + 0x100 / 8 + 0x10000 / 8 + 1, updated: 1n << 63n } as const;
/** HVM_PARAM_NR_IOREQ_SERVER_PAGES: at most the bits of an `unsigned long` mask. */
export const MAX_IOREQ_SERVER_PAGES = 64;
/** GSIs of an HVM guest's virtual IO-APIC (`VIOAPIC_NUM_PINS`): a GSI callback must be below. */
export const HVM_NR_GSIS = 48;
/** The lowest vector an event-channel upcall may use (0..15 are exceptions). */
export const MIN_UPCALL_VECTOR = 0x10;
