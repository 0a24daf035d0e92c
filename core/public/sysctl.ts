/** sysctl (hypercall 35): commands, capability bits and struct layouts (xen/include/public/sysctl.h, Xen 4.17, x86-64). */

/** `XEN_SYSCTL_INTERFACE_VERSION` of Xen 4.17: any other value gets −EACCES. */
export const XEN_SYSCTL_INTERFACE_VERSION = 0x15;

/** `XEN_SYSCTL_*` commands. */
export const XEN_SYSCTL = {
  readconsole: 1,
  tbuf_op: 2,
  physinfo: 3,
  sched_id: 4,
  perfc_op: 5,
  getdomaininfolist: 6,
  debug_keys: 7,
  getcpuinfo: 8,
  availheap: 9,
  get_pmstat: 10,
  cpu_hotplug: 11,
  pm_op: 12,
  page_offline_op: 14,
  lockprof_op: 15,
  cputopoinfo: 16,
  numainfo: 17,
  cpupool_op: 18,
  scheduler_op: 19,
  coverage_op: 20,
  psr_cmt_op: 21,
  pcitopoinfo: 22,
} as const;

/** `struct xen_sysctl` (136 bytes). */
export const XenSysctl = {
  size: 136,
  /** IN u32: XEN_SYSCTL_*. */
  cmd: 0,
  /** IN u32: must be {@link XEN_SYSCTL_INTERFACE_VERSION}. */
  interfaceVersion: 4,
  /** The command's union (128 bytes). */
  u: 8,
  uSize: 128,
} as const;

/** `XEN_SYSCTL_PHYSCAP_*`: `xen_sysctl_physinfo.capabilities`. */
export const XEN_SYSCTL_PHYSCAP = {
  hvm: 1 << 0,
  pv: 1 << 1,
  directio: 1 << 2,
  hap: 1 << 3,
  shadow: 1 << 4,
  iommu_hap_pt_share: 1 << 5,
  vmtrace: 1 << 6,
  vpmu: 1 << 7,
  gnttab_v1: 1 << 8,
  gnttab_v2: 1 << 9,
} as const;

/** `struct xen_sysctl_physinfo` (112 bytes), all OUT. */
export const XenSysctlPhysinfo = {
  size: 112,
  /** u32 each. */
  threadsPerCore: 0,
  coresPerSocket: 4,
  nrCpus: 8,
  maxCpuId: 12,
  nrNodes: 16,
  maxNodeId: 20,
  cpuKhz: 24,
  /** XEN_SYSCTL_PHYSCAP_*. */
  capabilities: 28,
  archCapabilities: 32,
  /** u64 each. */
  totalPages: 40,
  freePages: 48,
  scrubPages: 56,
  outstandingPages: 64,
  maxMfn: 72,
  /** u32[8]: CPUID feature words. */
  hwCap: 80,
} as const;

/** `struct xen_sysctl_getdomaininfolist` (24 bytes). */
export const XenSysctlGetdomaininfolist = {
  size: 24,
  /** IN domid_t: list domains with domid ≥ this. */
  firstDomain: 0,
  /** IN u32: capacity of buffer, in xen_domctl_getdomaininfo structs. */
  maxDomains: 4,
  /** IN guest handle → xen_domctl_getdomaininfo[]. */
  buffer: 8,
  /** OUT u32: structs written. */
  numDomains: 16,
} as const;
