/** vcpu_op (hypercall 24) sub-ops, runstates and their structures (xen/include/public/vcpu.h), x86-64 layouts. */

/** `VCPUOP_*` (Xen 4.17 stops at 13). */
export const VCPUOP = {
  initialise: 0,
  up: 1,
  down: 2,
  is_up: 3,
  get_runstate_info: 4,
  register_runstate_memory_area: 5,
  set_periodic_timer: 6,
  stop_periodic_timer: 7,
  set_singleshot_timer: 8,
  stop_singleshot_timer: 9,
  register_vcpu_info: 10,
  send_nmi: 11,
  get_physid: 12,
  register_vcpu_time_memory_area: 13,
} as const;

/** `RUNSTATE_*`. */
export const RUNSTATE = { running: 0, runnable: 1, blocked: 2, offline: 3 } as const;
export type RunstateName = keyof typeof RUNSTATE;

/** `struct vcpu_runstate_info` (48 bytes): state i32 @0, state_entry_time u64 @8, time[4] u64 @16. */
export const VcpuRunstateInfo = { size: 48, state: 0, stateEntryTime: 8, time: 16 } as const;
/** `struct vcpu_set_periodic_timer` (8 bytes): period_ns u64 @0. */
export const VcpuSetPeriodicTimer = { size: 8, periodNs: 0 } as const;
/** `struct vcpu_set_singleshot_timer` (16 bytes): timeout_abs_ns u64 @0, flags u32 @8. */
export const VcpuSetSingleshotTimer = { size: 16, timeoutAbsNs: 0, flags: 8 } as const;
/** Singleshot flag: fail with −ETIME when the timeout is already in the past. */
export const VCPU_SSHOTTMR_future = 1;
/** `struct vcpu_register_vcpu_info` (16 bytes): mfn u64 @0, offset u32 @8, rsvd u32 @12. */
export const VcpuRegisterVcpuInfo = { size: 16, mfn: 0, offset: 8 } as const;
/** `struct vcpu_register_runstate_memory_area` (8 bytes): addr (guest handle / virtual address) u64 @0. */
export const VcpuRegisterRunstateMemoryArea = { size: 8, addr: 0 } as const;
