/** The shared-info page, vcpu_info and vcpu_time_info at Xen's x86-64 offsets (xen/include/public/xen.h, arch-x86/xen.h). */

/** vCPUs whose vcpu_info lives in the shared-info page; others must use VCPUOP_register_vcpu_info. */
export const XEN_LEGACY_MAX_VCPUS = 32;

/** `struct vcpu_time_info` (32 bytes). */
export const VcpuTimeInfo = {
  size: 32,
  /** u32; odd while Xen updates the record (a seqlock). */
  version: 0,
  /** u64: the TSC when system_time was sampled. */
  tscTimestamp: 8,
  /** u64: ns since boot at tsc_timestamp. */
  systemTime: 16,
  /** u32: ns per TSC tick × 2^32, after the shift. */
  tscToSystemMul: 24,
  /** i8. */
  tscShift: 28,
  /** u8: XEN_PVCLOCK_TSC_STABLE_BIT 1, XEN_PVCLOCK_GUEST_STOPPED 2. */
  flags: 29,
} as const;
export const XEN_PVCLOCK_TSC_STABLE_BIT = 1;
export const XEN_PVCLOCK_GUEST_STOPPED = 2;

/** `struct vcpu_info` (64 bytes). */
export const VcpuInfo = {
  size: 64,
  /** u8: set by Xen when an unmasked event is pending for this vCPU. */
  evtchnUpcallPending: 0,
  /** u8: set by the guest to hold upcalls off. */
  evtchnUpcallMask: 1,
  /** u64 (xen_ulong_t): bit w means word w of evtchn_pending may hold a pending unmasked event. */
  evtchnPendingSel: 8,
  /** arch_vcpu_info.cr2 (u64). */
  cr2: 16,
  /** vcpu_time_info. */
  time: 32,
} as const;

/** `struct shared_info` (3136 bytes). */
export const SharedInfo = {
  size: 3136,
  /** vcpu_info[XEN_LEGACY_MAX_VCPUS]. */
  vcpuInfo: 0,
  /** xen_ulong_t evtchn_pending[64]: bit p of the bitmap is port p. */
  evtchnPending: 2048,
  /** xen_ulong_t evtchn_mask[64]. */
  evtchnMask: 2560,
  /** u32 wc_version (odd while updating), then wc_sec u32, wc_nsec u32, wc_sec_hi u32. */
  wcVersion: 3072,
  wcSec: 3076,
  wcNsec: 3080,
  wcSecHi: 3084,
  /** arch_shared_info: max_pfn u64 @3088, pfn_to_mfn_frame_list_list @3096, nmi_reason @3104, p2m_cr3 @3112, p2m_vaddr @3120, p2m_generation @3128. */
  archMaxPfn: 3088,
  archPfnToMfnFrameListList: 3096,
  archNmiReason: 3104,
  archP2mCr3: 3112,
  archP2mVaddr: 3120,
  archP2mGeneration: 3128,
} as const;
