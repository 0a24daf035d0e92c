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
/** `struct vcpu_register_time_memory_area` (8 bytes): addr (guest handle / virtual address) u64 @0. */
export const VcpuRegisterTimeMemoryArea = { size: 8, addr: 0 } as const;
/** `struct vcpu_get_physid` (8 bytes): phys_id u64 @0 = APIC id (bits 0..31) | ACPI id << 32. */
export const VcpuGetPhysid = { size: 8, physId: 0 } as const;
/** Minimum period of VCPUOP_set_periodic_timer (Xen: MILLISECS(1)); shorter is −EINVAL. */
export const VCPU_PERIODIC_MIN_NS = 1_000_000;
/** Largest timer delta Xen accepts (`STIME_DELTA_MAX`, 2^62 ns). */
export const STIME_DELTA_MAX = 2 ** 62;

/** `VGCF_*` flags of vcpu_guest_context. */
export const VGCF = { i387_valid: 1 << 0, in_kernel: 1 << 2, failsafe_disables_events: 1 << 3, syscall_disables_events: 1 << 4, online: 1 << 5 } as const;

/** `struct cpu_user_regs` (x86-64, 200 bytes): 64-bit registers, segment selectors u16. */
export const CpuUserRegs = {
  size: 200,
  r15: 0,
  r14: 8,
  r13: 16,
  r12: 24,
  rbp: 32,
  rbx: 40,
  r11: 48,
  r10: 56,
  r9: 64,
  r8: 72,
  rax: 80,
  rcx: 88,
  rdx: 96,
  rsi: 104,
  rdi: 112,
  /** u32 error_code @120, u32 entry_vector @124 (private to Xen). */
  rip: 128,
  cs: 136,
  /** u8: rflags.IF == !saved_upcall_mask. */
  savedUpcallMask: 140,
  rflags: 144,
  rsp: 152,
  ss: 160,
  es: 168,
  ds: 176,
  fs: 184,
  gs: 192,
} as const;

/** `struct vcpu_guest_context` (x86-64 PV, 5168 bytes), the VCPUOP_initialise argument of PV guests. */
export const VcpuGuestContext = {
  size: 5168,
  /** 512 bytes of FXSAVE state. */
  fpuCtxt: 0,
  /** unsigned long: VGCF_*. */
  flags: 512,
  /** struct cpu_user_regs. */
  userRegs: 520,
  /** struct trap_info[256] (16 bytes each): vector u8, flags u8, cs u16, address u64. */
  trapCtxt: 720,
  ldtBase: 4816,
  ldtEnts: 4824,
  /** unsigned long gdt_frames[16] (machine frames), then gdt_ents @4960. */
  gdtFrames: 4832,
  gdtEnts: 4960,
  kernelSs: 4968,
  kernelSp: 4976,
  /** unsigned long ctrlreg[8]: CR0..CR7; ctrlreg[3] = xen_pfn_to_cr3(L4 mfn), ctrlreg[1] = user page table. */
  ctrlreg: 4984,
  debugreg: 5048,
  eventCallbackEip: 5112,
  failsafeCallbackEip: 5120,
  syscallCallbackEip: 5128,
  vmAssist: 5136,
  fsBase: 5144,
  gsBaseKernel: 5152,
  gsBaseUser: 5160,
} as const;
/** Most LDT entries a PV context may name (8192) and GDT entries below Xen's reserved ones (FIRST_RESERVED_GDT_ENTRY, 14 pages × 512). */
export const PV_MAX_LDT_ENTRIES = 8192;
export const PV_MAX_GDT_ENTRIES = 14 * 512;

/** `vcpu_hvm_context.mode`. */
export const VCPU_HVM_MODE = { '32B': 0, '64B': 1 } as const;
/** `struct vcpu_hvm_context` (128 bytes): mode u32 @0, pad u32, cpu_regs @8 (a union of the two below). */
export const VcpuHvmContext = { size: 128, mode: 0, cpuRegs: 8 } as const;
/**
 * `struct vcpu_hvm_x86_32` (120 bytes, at cpu_regs): eax..edi u32 @0..28, eip @32, eflags @36, cr0 @40,
 * cr3 @44, cr4 @48, efer u64 @56, {cs,ds,ss,es,tr}_base u32 @64.., _limit u32 @84.., _ar u16 @104..
 * (ar: type 0-3, s 4, dpl 5-6, p 7, avl 8, l 9, db 10, g 11).
 */
export const VcpuHvmX86_32 = {
  size: 120,
  gprs: 0,
  eip: 32,
  eflags: 36,
  cr0: 40,
  cr3: 44,
  cr4: 48,
  efer: 56,
  base: 64,
  limit: 84,
  ar: 104,
} as const;
/** Segment order of the `_base`/`_limit`/`_ar` arrays of vcpu_hvm_x86_32. */
export const VCPU_HVM_SEGMENTS = ['cs', 'ds', 'ss', 'es', 'tr'] as const;
/** `struct vcpu_hvm_x86_64` (112 bytes, at cpu_regs): rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi @0..56, rip @64, rflags @72, cr0 @80, cr3 @88, cr4 @96, efer @104. */
export const VcpuHvmX86_64 = { size: 112, gprs: 0, rip: 64, rflags: 72, cr0: 80, cr3: 88, cr4: 96, efer: 104 } as const;
