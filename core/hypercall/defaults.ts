/**
 * The default hypercall × guest-mode matrix for x86, following Xen 4.17's xen/include/hypercall-defs.c
 * (pv64 column → pv; hvm64 column → hvm, pvhvm and pvh, which Xen serves from one HVM table).
 */
import type { HypercallDecision } from '../api/hypercall.js';
import type { GuestMode } from '../api/domain.js';
import type { HypercallName } from '../public/xen.js';

const H: HypercallDecision = 'handled';
const U: HypercallDecision = 'unavailable';
const P: HypercallDecision = 'privileged';

/** One row of the matrix: a decision per mode, and whether argument 0 is a sub-op (`cmd`) worth tracing. */
export interface HypercallRow {
  readonly pv: HypercallDecision;
  readonly hvm: HypercallDecision;
  readonly pvhvm: HypercallDecision;
  readonly pvh: HypercallDecision;
  readonly subOp: boolean;
}

function row(pv: HypercallDecision, hvm: HypercallDecision, pvhvm: HypercallDecision, pvh: HypercallDecision, subOp = false): HypercallRow {
  return { pv, hvm, pvhvm, pvh, subOp };
}

/**
 * Every hypercall of core/public/xen.ts. `privileged` marks what Xen's default XSM policy limits to
 * privileged domains (domctl, sysctl, platform_op, kexec, dm_op, hypfs, mca, paging_domctl_cont);
 * Xen checks that inside the handlers, we check it in the table. argo_op and tmem_op are compiled out
 * of a default Xen build.
 */
export const DEFAULT_HYPERCALL_MATRIX: Readonly<Record<HypercallName, HypercallRow>> = {
  //                             pv  hvm pvhvm pvh  sub-op
  set_trap_table: /*          */ row(H, U, U, U),
  mmu_update: /*              */ row(H, U, U, U),
  set_gdt: /*                 */ row(H, U, U, U),
  stack_switch: /*            */ row(H, U, U, U),
  set_callbacks: /*           */ row(H, U, U, U),
  fpu_taskswitch: /*          */ row(H, U, U, U),
  sched_op_compat: /*         */ row(H, U, U, U, true),
  platform_op: /*             */ row(P, P, P, P),
  set_debugreg: /*            */ row(H, U, U, U),
  get_debugreg: /*            */ row(H, U, U, U),
  update_descriptor: /*       */ row(H, U, U, U),
  memory_op: /*               */ row(H, H, H, H, true),
  multicall: /*               */ row(H, H, H, H),
  update_va_mapping: /*       */ row(H, U, U, U),
  set_timer_op: /*            */ row(H, H, H, H),
  event_channel_op_compat: /* */ row(H, U, U, U),
  xen_version: /*             */ row(H, H, H, H, true),
  console_io: /*              */ row(H, H, H, H, true),
  physdev_op_compat: /*       */ row(H, U, U, U),
  grant_table_op: /*          */ row(H, H, H, H, true),
  vm_assist: /*               */ row(H, H, H, H, true),
  update_va_mapping_otherdomain: row(H, U, U, U),
  iret: /*                    */ row(H, U, U, U),
  vcpu_op: /*                 */ row(H, H, H, H, true),
  set_segment_base: /*        */ row(H, U, U, U, true),
  mmuext_op: /*               */ row(H, H, H, H),
  xsm_op: /*                  */ row(H, H, H, H),
  nmi_op: /*                  */ row(H, U, U, U, true),
  sched_op: /*                */ row(H, H, H, H, true),
  callback_op: /*             */ row(H, U, U, U, true),
  xenoprof_op: /*             */ row(H, U, U, U, true),
  event_channel_op: /*        */ row(H, H, H, H, true),
  physdev_op: /*              */ row(H, H, H, H, true),
  hvm_op: /*                  */ row(H, H, H, H, true),
  sysctl: /*                  */ row(P, P, P, P),
  domctl: /*                  */ row(P, P, P, P),
  kexec_op: /*                */ row(P, U, U, U, true),
  tmem_op: /*                 */ row(U, U, U, U),
  argo_op: /*                 */ row(U, U, U, U, true),
  xenpmu_op: /*               */ row(H, H, H, H, true),
  dm_op: /*                   */ row(P, P, P, P),
  hypfs_op: /*                */ row(P, P, P, P, true),
  arch_0: /* mca            */ row(P, U, U, U),
  arch_1: /* paging_domctl_cont */ row(P, P, P, P),
  arch_2: /*                  */ row(U, U, U, U),
  arch_3: /*                  */ row(U, U, U, U),
  arch_4: /*                  */ row(U, U, U, U),
  arch_5: /*                  */ row(U, U, U, U),
  arch_6: /*                  */ row(U, U, U, U),
  arch_7: /*                  */ row(U, U, U, U),
};

/** The default column of one mode. */
export function defaultColumn(mode: GuestMode): Record<HypercallName, HypercallDecision> {
  const out = {} as Record<HypercallName, HypercallDecision>;
  for (const [name, r] of Object.entries(DEFAULT_HYPERCALL_MATRIX) as [HypercallName, HypercallRow][]) out[name] = r[mode];
  return out;
}
