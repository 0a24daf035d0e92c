/** mmuext_op (26): pinning tables, switching base tables, TLB and cache flushes (do_mmuext_op, arch/x86/mm.c). */
import { GuestError } from '../api/errors.js';
import type { HypercallArgs, HypercallContext } from '../api/hypercall.js';
import type { PvPageType } from '../api/pv-mm.js';
import type { MachineFrame } from '../public/types.js';
import { MMUEXT, MmuextOp } from '../public/pv-mm.js';
import { addrOk, batchArgs, getPgOwner, readWords, vcpuMask, writeDone } from './guest-args.js';
import { hex, type PvMmImpl } from './pv-mm.js';

const PIN_TYPE: Readonly<Record<number, PvPageType>> = {
  [MMUEXT.PIN_L1_TABLE]: 'l1',
  [MMUEXT.PIN_L2_TABLE]: 'l2',
  [MMUEXT.PIN_L3_TABLE]: 'l3',
  [MMUEXT.PIN_L4_TABLE]: 'l4',
};

/** Commands that only act on the caller itself (EPERM with a foreign page owner). */
const SELF_ONLY = new Set<number>([
  MMUEXT.NEW_BASEPTR,
  MMUEXT.NEW_USER_BASEPTR,
  MMUEXT.TLB_FLUSH_LOCAL,
  MMUEXT.INVLPG_LOCAL,
  MMUEXT.TLB_FLUSH_MULTI,
  MMUEXT.INVLPG_MULTI,
  MMUEXT.TLB_FLUSH_ALL,
  MMUEXT.INVLPG_ALL,
  MMUEXT.FLUSH_CACHE,
  MMUEXT.FLUSH_CACHE_GLOBAL,
  MMUEXT.SET_LDT,
]);

interface Op {
  readonly cmd: number;
  /** arg1 (mfn or linear address) and arg2 (vcpumask pointer, nr_ents, src_mfn) as numbers. */
  readonly arg1: number;
  readonly arg2: number;
}

function fail(errno: 'EINVAL' | 'EPERM' | 'EACCES' | 'ENOSYS' | 'EOPNOTSUPP', domid: number, detail: string): GuestError {
  return new GuestError(errno, `pv-mm: ${detail}`, { domid });
}

/** get_page_from_gfn(pg_owner, mfn) for a PV owner: the frame must be the owner's. */
function ownerFrame(mm: PvMmImpl, mfn: number, pgOwner: number, what: string, caller: number): number {
  const owner = Number.isSafeInteger(mfn) && mfn < mm.ctx.memory.totalFrames ? mm.ctx.memory.ownerOf(mfn as MachineFrame) : undefined;
  if (owner !== pgOwner) throw fail('EINVAL', caller, `${what}: mfn ${hex(mfn)} bad, or not dom${pgOwner}'s`);
  return mfn;
}

/** A frame about to be written as plain memory: it must not be a page table (get_page_type(PGT_writable_page)). */
function writableFrame(mm: PvMmImpl, mfn: number, pgOwner: number, what: string, caller: number): Uint8Array {
  ownerFrame(mm, mfn, pgOwner, what, caller);
  const rec = mm.types.record(mfn);
  if (rec !== undefined && rec.type !== 'writable') throw fail('EINVAL', caller, `${what}: mfn ${hex(mfn)} is in use as ${rec.type}`);
  return mm.ctx.memory.frameBytes(mfn as MachineFrame);
}

function pin(mm: PvMmImpl, type: PvPageType, mfn: number, pgOwner: number, caller: number): void {
  ownerFrame(mm, mfn, pgOwner, `pin ${type}`, caller);
  mm.types.getType(mfn, type, pgOwner);
  if (mm.types.record(mfn)!.pinned) {
    mm.types.putType(mfn);
    throw fail('EINVAL', caller, `mfn ${hex(mfn)} already pinned`);
  }
  mm.types.setPinned(mfn, true);
}

function unpin(mm: PvMmImpl, mfn: number, pgOwner: number, caller: number): void {
  ownerFrame(mm, mfn, pgOwner, 'unpin', caller);
  if (mm.types.record(mfn)?.pinned !== true) throw fail('EINVAL', caller, `mfn ${hex(mfn)} not pinned`);
  mm.types.setPinned(mfn, false);
  mm.types.putType(mfn);
}

/** One operation, as the switch in do_mmuext_op. */
function doOne(mm: PvMmImpl, caller: HypercallContext, op: Op, pgOwner: number): void {
  const d = caller.domid;
  const type = PIN_TYPE[op.cmd];
  if (caller.mode !== 'pv' && type === undefined && op.cmd !== MMUEXT.UNPIN_TABLE) throw fail('EOPNOTSUPP', d, `mmuext_op ${op.cmd} from an HVM domain`);
  if (SELF_ONLY.has(op.cmd) && pgOwner !== d) throw fail('EPERM', d, `mmuext_op ${op.cmd} on dom${pgOwner}`);
  // Pinning means nothing to a domain whose tables are not PV tables (paging_mode_refcounts).
  if ((type !== undefined || op.cmd === MMUEXT.UNPIN_TABLE) && mm.ctx.domains.get(pgOwner)?.mode !== 'pv') return;
  if (type !== undefined) return pin(mm, type, op.arg1, pgOwner, d);
  switch (op.cmd) {
    case MMUEXT.UNPIN_TABLE:
      return unpin(mm, op.arg1, pgOwner, d);
    case MMUEXT.NEW_BASEPTR:
      return mm.newGuestCr3(d, caller.vcpuId, op.arg1);
    case MMUEXT.NEW_USER_BASEPTR:
      return mm.newUserBaseptr(d, caller.vcpuId, op.arg1);
    case MMUEXT.TLB_FLUSH_LOCAL:
      return mm.flush(d, [caller.vcpuId]);
    case MMUEXT.INVLPG_LOCAL:
      return mm.flush(d, [caller.vcpuId], op.arg1);
    case MMUEXT.TLB_FLUSH_MULTI:
    case MMUEXT.INVLPG_MULTI: {
      let vcpus: number[];
      try {
        vcpus = vcpuMask(mm, caller.guest, d, op.arg2);
      } catch (error) {
        if (!(error instanceof GuestError)) throw error;
        throw fail('EINVAL', d, `unreadable vCPU mask at ${hex(op.arg2)}`);
      }
      if (op.cmd === MMUEXT.TLB_FLUSH_MULTI) mm.flush(d, vcpus);
      else if (addrOk(op.arg1)) mm.flush(d, vcpus, op.arg1);
      return;
    }
    case MMUEXT.TLB_FLUSH_ALL:
      return mm.flush(d, undefined);
    case MMUEXT.INVLPG_ALL:
      if (addrOk(op.arg1)) mm.flush(d, undefined, op.arg1);
      return;
    case MMUEXT.FLUSH_CACHE:
      // cache_flush_permitted: domains with I/O memory, i.e. the privileged one here. The flush itself has no effect in the model.
      if (!caller.privileged) throw fail('EACCES', d, 'FLUSH_CACHE without cache-flush rights');
      return;
    case MMUEXT.FLUSH_CACHE_GLOBAL:
      if (!caller.privileged) throw fail('EINVAL', d, 'FLUSH_CACHE_GLOBAL without cache-flush rights');
      return;
    case MMUEXT.SET_LDT: {
      const ents = op.arg2 >>> 0;
      const ptr = ents !== 0 ? op.arg1 : 0;
      if (ptr % 4096 !== 0 || !addrOk(ptr) || ents > 8192) throw fail('EINVAL', d, `bad SET_LDT: ptr=${hex(ptr)} ents=${ents}`);
      // No descriptor tables in the model: a well-formed LDT is accepted and unused.
      return;
    }
    case MMUEXT.CLEAR_PAGE:
      writableFrame(mm, op.arg1, pgOwner, 'clear page', d).fill(0);
      return;
    case MMUEXT.COPY_PAGE: {
      const src = mm.ctx.memory.frameBytes(ownerFrame(mm, op.arg2, pgOwner, 'copy page from', d) as MachineFrame);
      writableFrame(mm, op.arg1, pgOwner, 'copy page to', d).set(src);
      return;
    }
    case MMUEXT.MARK_SUPER:
    case MMUEXT.UNMARK_SUPER:
      throw fail('EOPNOTSUPP', d, 'superpages are not supported');
    default:
      throw fail('ENOSYS', d, `mmuext_op command ${op.cmd}`);
  }
}

/**
 * do_mmuext_op(ops, count, pdone, foreigndom): runs the operations in order, stops at the first that
 * fails, and writes the number done to `*pdone` either way. A page owner other than DOMID_SELF needs
 * privilege and is refused for everything but pinning, unpinning and page clear/copy. Never preempts.
 */
export function doMmuextOp(mm: PvMmImpl, caller: HypercallContext, args: HypercallArgs): number {
  const { list: ops, count, pdone, foreigndom, done } = batchArgs(caller, args, MmuextOp.size, 'mmuext_op', 'operations');
  const d = caller.domid;
  const pgOwner = getPgOwner(mm, caller, foreigndom & 0xffff);
  let i = 0;
  let failure: GuestError | undefined;
  try {
    for (; i < count; i++) {
      const at = ops + i * MmuextOp.size;
      const cmd = caller.guest.readU32(at + MmuextOp.cmd);
      const [a1lo, a1hi] = readWords(caller.guest, at + MmuextOp.arg1);
      const [a2lo, a2hi] = readWords(caller.guest, at + MmuextOp.arg2);
      doOne(mm, caller, { cmd, arg1: a1hi * 2 ** 32 + a1lo, arg2: a2hi * 2 ** 32 + a2lo }, pgOwner);
    }
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
    failure = error;
  }
  writeDone(caller.guest, pdone, done + i);
  if (failure !== undefined) {
    mm.refused(d, 'mmuext_op', failure);
    throw failure;
  }
  return 0;
}
