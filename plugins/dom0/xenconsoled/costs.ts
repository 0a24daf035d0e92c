/**
 * What xenconsoled's work costs Dom0, in the cost model's terms. C xenconsoled is one process looping
 * on poll(): a wake-up, then for each domain with a pending event a read of the ring (copying bytes
 * out of the mapped page), writes to its log and pty, and an evtchn notify (a hypercall).
 */
import type { VcpuApi } from '../../../core/api/index.js';

/** Cycles of one pass of the poll loop (poll's return, the evtchn fd read and unmask). */
export const WAKE_CYCLES = 2_000;
/** Cycles of one write(2) of output to a client socket. */
export const WRITE_CYCLES = 1_000;
/** Ring index reads and writes per serviced ring (four indexes read, one or two written). */
export const INDEX_ACCESSES = 6;

/** Charges one serviced ring: its index accesses, `bytes` copied through it, `writes` client writes and `notifies` hypercalls. */
export function chargeService(v: VcpuApi, bytes: number, writes: number, notifies: number): void {
  v.charge('memoryAccess', INDEX_ACCESSES);
  if (bytes > 0) v.charge('copyPerByte', bytes);
  if (writes > 0) v.compute(writes * WRITE_CYCLES);
  if (notifies > 0) v.charge('hypercall', notifies);
}
