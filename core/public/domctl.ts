/**
 * domctl (hypercall 36): commands, flags and struct layouts (xen/include/public/domctl.h, arch-x86/xen.h,
 * Xen 4.17, x86-64; offsets printed with gcc). sysctl lives in sysctl.ts and is re-exported here.
 */
export * from './sysctl.js';

/** `XEN_DOMCTL_INTERFACE_VERSION` of Xen 4.17: any other value in `interface_version` gets −EACCES. */
export const XEN_DOMCTL_INTERFACE_VERSION = 0x15;

/** `XEN_DOMCTL_*` commands (the ones the toolstack uses first; the rest return −ENOSYS here). */
export const XEN_DOMCTL = {
  createdomain: 1,
  destroydomain: 2,
  pausedomain: 3,
  unpausedomain: 4,
  getdomaininfo: 5,
  setvcpuaffinity: 9,
  shadow_op: 10,
  max_mem: 11,
  setvcpucontext: 12,
  getvcpucontext: 13,
  getvcpuinfo: 14,
  max_vcpus: 15,
  scheduler_op: 16,
  setdomainhandle: 17,
  settimeoffset: 24,
  getvcpuaffinity: 25,
  resumedomain: 27,
  gethvmcontext: 33,
  sethvmcontext: 34,
  set_address_size: 35,
  get_address_size: 36,
  set_target: 46,
  get_paging_mempool_size: 85,
  set_paging_mempool_size: 86,
} as const;

/** `struct xen_domctl` (144 bytes). */
export const XenDomctl = {
  size: 144,
  /** IN u32: XEN_DOMCTL_*. */
  cmd: 0,
  /** IN u32: must be {@link XEN_DOMCTL_INTERFACE_VERSION}. */
  interfaceVersion: 4,
  /** IN/OUT domid_t: the target; createdomain returns the new domid here. */
  domain: 8,
  /** The command's union (128 bytes). */
  u: 16,
  uSize: 128,
} as const;

/** `XEN_DOMCTL_CDF_*`: `xen_domctl_createdomain.flags`. */
export const XEN_DOMCTL_CDF = {
  hvm: 1 << 0,
  hap: 1 << 1,
  s3_integrity: 1 << 2,
  oos_off: 1 << 3,
  xs_domain: 1 << 4,
  iommu: 1 << 5,
  nested_virt: 1 << 6,
  vpmu: 1 << 7,
} as const;
/** Every CDF flag 4.17 knows; others get −EINVAL. */
export const XEN_DOMCTL_CDF_ALL = 0xff;
/** `XEN_DOMCTL_IOMMU_no_sharept`: the only `iommu_opts` bit. */
export const XEN_DOMCTL_IOMMU_no_sharept = 1 << 0;
/** `XEN_DOMCTL_GRANT_version_mask`: the only `grant_opts` bits. */
export const XEN_DOMCTL_GRANT_version_mask = 0xf;

/** `XEN_X86_EMU_*`: `xen_arch_domainconfig.emulation_flags`. */
export const XEN_X86_EMU = {
  LAPIC: 1 << 0,
  HPET: 1 << 1,
  PM: 1 << 2,
  RTC: 1 << 3,
  IOAPIC: 1 << 4,
  PIC: 1 << 5,
  VGA: 1 << 6,
  IOMMU: 1 << 7,
  PIT: 1 << 8,
  USE_PIRQ: 1 << 9,
  VPCI: 1 << 10,
} as const;
export const XEN_X86_EMU_ALL = 0x7ff;

/** `struct xen_arch_domainconfig` (8 bytes): emulation_flags u32 @0, misc_flags u32 @4. */
export const XenArchDomainconfig = { size: 8, emulationFlags: 0, miscFlags: 4 } as const;

/** `struct xen_domctl_createdomain` (64 bytes), all IN. */
export const XenDomctlCreatedomain = {
  size: 64,
  /** u32. */
  ssidref: 0,
  /** xen_domain_handle_t: 16 bytes (a UUID). */
  handle: 4,
  handleSize: 16,
  /** u32: XEN_DOMCTL_CDF_*. */
  flags: 20,
  /** u32: XEN_DOMCTL_IOMMU_*. */
  iommuOpts: 24,
  /** u32: ≥ 1. */
  maxVcpus: 28,
  /** u32. */
  maxEvtchnPort: 32,
  /** i32: < 0 = the hypervisor's default. */
  maxGrantFrames: 36,
  /** i32. */
  maxMaptrackFrames: 40,
  /** u32: grant-table version in bits 3:0. */
  grantOpts: 44,
  /** u32: per-vCPU trace buffer bytes. */
  vmtraceSize: 48,
  /** u32. */
  cpupoolId: 52,
  /** xen_arch_domainconfig. */
  arch: 56,
} as const;

/** `XEN_DOMINF_*`: `xen_domctl_getdomaininfo.flags`. */
export const XEN_DOMINF = {
  dying: 1 << 0,
  hvm_guest: 1 << 1,
  shutdown: 1 << 2,
  paused: 1 << 3,
  blocked: 1 << 4,
  running: 1 << 5,
  debugged: 1 << 6,
  xs_domain: 1 << 7,
  hap: 1 << 8,
} as const;
/** The shutdown reason (SHUTDOWN_*) sits in flags bits 23:16 while XEN_DOMINF_shutdown is set. */
export const XEN_DOMINF_shutdownshift = 16;
export const XEN_DOMINF_shutdownmask = 0xff;
/** `max_vcpu_id` of a domain without vCPUs. */
export const XEN_INVALID_MAX_VCPU_ID = 0xffffffff;

/** `struct xen_domctl_getdomaininfo` (112 bytes), all OUT. Also the element of sysctl getdomaininfolist's buffer. */
export const XenDomctlGetdomaininfo = {
  size: 112,
  /** domid_t. */
  domain: 0,
  /** u32: XEN_DOMINF_* | reason << 16. */
  flags: 4,
  /** u64 each. */
  totPages: 8,
  maxPages: 16,
  outstandingPages: 24,
  shrPages: 32,
  pagedPages: 40,
  /** u64: GMFN of shared_info (the MFN for PV). */
  sharedInfoFrame: 48,
  /** u64: ns the vCPUs ran. */
  cpuTime: 56,
  /** u32. */
  nrOnlineVcpus: 64,
  /** u32. */
  maxVcpuId: 68,
  /** u32. */
  ssidref: 72,
  /** 16 bytes. */
  handle: 76,
  /** u32. */
  cpupool: 92,
  /** u8: guest-physical address bits. */
  gpaddrBits: 96,
  /** xen_arch_domainconfig. */
  archConfig: 104,
} as const;

/** `struct xen_domctl_max_mem` (8 bytes): IN max_memkb u64 @0. */
export const XenDomctlMaxMem = { size: 8, maxMemkb: 0 } as const;
/** `struct xen_domctl_max_vcpus` (4 bytes): IN max u32 @0. */
export const XenDomctlMaxVcpus = { size: 4, max: 0 } as const;
/** `struct xen_domctl_vcpucontext` (16 bytes): IN vcpu u32 @0, IN/OUT ctxt handle (→ vcpu_guest_context) @8. */
export const XenDomctlVcpucontext = { size: 16, vcpu: 0, ctxt: 8 } as const;

/** The context itself (vcpu_guest_context, VGCF_*, cpu_user_regs) is laid out in vcpu.ts, shared with VCPUOP_initialise. */
