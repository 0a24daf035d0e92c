/**
 * What the toolstack's steps cost Dom0, in the cost model's terms. libxl and libxc do each step with
 * hypercalls (domctl, memory_op, hvm_op, event_channel_op, grant_table_op) and xenstore requests, and
 * xenstored is a Dom0 process too: both are charged to the Dom0 vCPU running the task.
 */
import type { VcpuApi } from '../../../core/api/index.js';

/** Cycles of one xenstore request handled by xenstored (parse, permission checks, store update, reply). */
export const XENSTORE_OP_CYCLES = 3_000;
/** Frames populated per XENMEM_populate_physmap call (libxc's batch). */
export const POPULATE_BATCH = 512;
/** Cycles to populate (allocate, scrub-on-demand bookkeeping, P2M entry) one frame. */
export const POPULATE_FRAME_CYCLES = 40;

/** Charges `n` hypercalls. */
export function hypercalls(v: VcpuApi, n = 1): void {
  v.charge('hypercall', n);
}

/** Charges `n` xenstore requests. */
export function xenstoreOps(v: VcpuApi, n: number): void {
  v.compute(n * XENSTORE_OP_CYCLES);
}

/** Charges copying `bytes` into guest memory (boot structures). */
export function copies(v: VcpuApi, bytes: number): void {
  v.charge('copyPerByte', bytes);
}
