/** Decoding the arguments the PV MMU hypercalls share: handles, foreign domains, 64-bit words, vCPU bitmaps. */
import { GuestError } from '../api/errors.js';
import type { HypercallContext } from '../api/hypercall.js';
import type { GuestAccess } from '../api/memory.js';
import { CANONICAL_LOW_END, foldCanonical } from '../mmu/address.js';
import { MMU_UPDATE_PREEMPTED } from '../public/pv-mm.js';
import { DOMID_IO, DOMID_SELF, DOMID_XEN } from '../public/xen.js';
import type { PvMmImpl } from './pv-mm.js';

const SPAN_64 = 2 ** 64;
/** Xen's own part of the upper half (HYPERVISOR_VIRT_START .. HYPERVISOR_VIRT_END), closed to guest handles. */
const XEN_VIRT_START = SPAN_64 - CANONICAL_LOW_END;
const XEN_VIRT_END = XEN_VIRT_START + 2 ** 43;

/** A 64-bit argument as an unsigned number (a negative one is the sign-extended form). */
export function unsigned64(value: number): number {
  return value < 0 ? value + SPAN_64 : value;
}

/** `[lo, hi]` halves of a 64-bit number (exact below 2^53, page-exact above). */
export function halves(value: number): [number, number] {
  const v = unsigned64(value);
  return [v % 2 ** 32 >>> 0, Math.floor(v / 2 ** 32) >>> 0];
}

/** guest_handle_okay: `count` elements of `size` bytes at `addr` fit the address space and miss Xen's range. */
export function guestHandleOkay(addr: number, count: number, size: number): boolean {
  const start = unsigned64(addr);
  const end = start + count * size;
  return Number.isFinite(end) && end <= SPAN_64 && !(start < XEN_VIRT_END && end > XEN_VIRT_START);
}

/** __addr_ok: a canonical address outside Xen's range. */
export function addrOk(va: number): boolean {
  const v = unsigned64(va);
  return foldCanonical(v) >= 0 && !(v >= XEN_VIRT_START && v < XEN_VIRT_END);
}

/** Reads a guest u64 as `[lo, hi]`; a fault is EFAULT. */
export function readWords(guest: GuestAccess, addr: number): [number, number] {
  return [guest.readU32(addr), guest.readU32(addr + 4)];
}

/**
 * get_pg_owner: the domain whose frames a request may map (DOMID_SELF, a foreign domain, DOMID_IO or
 * DOMID_XEN, which own no RAM here). Naming itself or a missing domain is ESRCH; naming another
 * domain without privilege is EPERM (XSM_TARGET).
 */
export function getPgOwner(mm: PvMmImpl, caller: HypercallContext, domid: number): number {
  if (domid === DOMID_SELF) return caller.domid;
  if (domid === caller.domid) throw new GuestError('ESRCH', `pv-mm: dom${domid} cannot name itself as the foreign domain`, { domid: caller.domid });
  if (domid !== DOMID_IO && domid !== DOMID_XEN && mm.ctx.domains.get(domid) === undefined) {
    throw new GuestError('ESRCH', `pv-mm: unknown foreign domain ${domid}`, { domid: caller.domid });
  }
  if (!caller.privileged) throw new GuestError('EPERM', `pv-mm: dom${caller.domid} may not act on dom${domid}'s frames`, { domid: caller.domid });
  return domid;
}

/** vcpumask_to_pcpumask: the vCPUs of `domid` set in the bitmap at `addr` (u64 words); a fault is EFAULT. */
export function vcpuMask(mm: PvMmImpl, guest: GuestAccess, domid: number, addr: number): number[] {
  const nr = mm.ctx.domains.lookup(domid).vcpus.length;
  const out: number[] = [];
  for (let bias = 0; bias < nr; bias += 64) {
    const [lo, hi] = readWords(guest, addr + bias / 8);
    for (let bit = 0; bit < 64; bit++) {
      if (bias + bit >= nr) break;
      if (((bit < 32 ? lo >>> bit : hi >>> (bit - 32)) & 1) !== 0) out.push(bias + bit);
    }
  }
  return out;
}

/** Writes the `pdone` output, as Xen does: a fault there is ignored. */
export function writeDone(guest: GuestAccess, pdone: number, done: number): void {
  if (pdone === 0) return;
  try {
    guest.writeU32(pdone, done >>> 0);
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
  }
}

/** The decoded `(list, count, pdone, foreigndom)` of mmu_update and mmuext_op, `done` resumed from a continuation. */
export interface BatchArgs {
  readonly list: number;
  readonly count: number;
  readonly pdone: number;
  readonly foreigndom: number;
  /** Elements already done (a continuation's `*pdone`), else 0. */
  readonly done: number;
}

/**
 * The arguments both batch hypercalls share: a continuation's count (MMU_UPDATE_PREEMPTED) resumes from
 * `*pdone`; the list of `count` elements of `size` bytes must be a valid guest handle (else EFAULT naming `op` and `unit`).
 */
export function batchArgs(caller: HypercallContext, args: readonly number[], size: number, op: string, unit: string): BatchArgs {
  const list = args[0] ?? 0;
  let count = (args[1] ?? 0) >>> 0;
  const pdone = args[2] ?? 0;
  let done = 0;
  if ((count & MMU_UPDATE_PREEMPTED) !== 0) {
    count = (count & ~MMU_UPDATE_PREEMPTED) >>> 0;
    if (pdone !== 0) done = caller.guest.readU32(pdone);
  }
  if (!guestHandleOkay(list, count, size)) throw new GuestError('EFAULT', `pv-mm: ${op} of ${count} ${unit} at 0x${unsigned64(list).toString(16)}`, { domid: caller.domid });
  return { list, count, pdone, foreigndom: (args[3] ?? 0) >>> 0, done };
}
