/** Hypercall numbers, reserved domain ids and version constants (xen/include/public/xen.h, Xen 4.17). */

/** `__HYPERVISOR_*` numbers. 11 is unused; 48..55 are arch-specific. */
export const Hypercall = {
  set_trap_table: 0,
  mmu_update: 1,
  set_gdt: 2,
  stack_switch: 3,
  set_callbacks: 4,
  fpu_taskswitch: 5,
  sched_op_compat: 6,
  platform_op: 7,
  set_debugreg: 8,
  get_debugreg: 9,
  update_descriptor: 10,
  memory_op: 12,
  multicall: 13,
  update_va_mapping: 14,
  set_timer_op: 15,
  event_channel_op_compat: 16,
  xen_version: 17,
  console_io: 18,
  physdev_op_compat: 19,
  grant_table_op: 20,
  vm_assist: 21,
  update_va_mapping_otherdomain: 22,
  iret: 23,
  vcpu_op: 24,
  set_segment_base: 25,
  mmuext_op: 26,
  xsm_op: 27,
  nmi_op: 28,
  sched_op: 29,
  callback_op: 30,
  xenoprof_op: 31,
  event_channel_op: 32,
  physdev_op: 33,
  hvm_op: 34,
  sysctl: 35,
  domctl: 36,
  kexec_op: 37,
  tmem_op: 38,
  argo_op: 39,
  xenpmu_op: 40,
  dm_op: 41,
  hypfs_op: 42,
  arch_0: 48,
  arch_1: 49,
  arch_2: 50,
  arch_3: 51,
  arch_4: 52,
  arch_5: 53,
  arch_6: 54,
  arch_7: 55,
} as const;
export type HypercallName = keyof typeof Hypercall;
/** One past the highest hypercall number; the dispatch table has this many slots. */
export const NR_HYPERCALLS = 64;

const hypercallNames = new Map<number, HypercallName>(
  (Object.entries(Hypercall) as [HypercallName, number][]).map(([name, nr]) => [nr, name]),
);
/** Name of a hypercall number, or `undefined` for an unassigned slot. */
export function hypercallName(nr: number): HypercallName | undefined {
  return hypercallNames.get(nr);
}

/** Reserved domain ids. Every id from {@link DOMID_FIRST_RESERVED} up is not a real domain. */
export const DOMID_FIRST_RESERVED = 0x7ff0;
export const DOMID_SELF = 0x7ff0;
export const DOMID_IO = 0x7ff1;
export const DOMID_XEN = 0x7ff2;
export const DOMID_COW = 0x7ff3;
export const DOMID_INVALID = 0x7ff4;
export const DOMID_IDLE = 0x7fff;

/** The Xen interface version we present (major.minor), as XENVER_version returns it. */
export const XEN_MAJOR = 4;
export const XEN_MINOR = 17;
export const XEN_EXTRAVERSION = '.0-xenoserver';
