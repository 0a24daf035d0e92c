/** mmu_update (1) and update_va_mapping (14): every change a PV guest makes to its page tables, validated (arch/x86/mm.c). */
import { GuestError } from '../api/errors.js';
import type { HypercallArgs, HypercallContext } from '../api/hypercall.js';
import type { MachineFrame } from '../public/types.js';
import { LEVEL_SPAN, foldCanonical } from '../mmu/address.js';
import { PTE_P, PTE_PS } from '../public/paging.js';
import { MMU, MmuUpdate, UVMF } from '../public/pv-mm.js';
import { LEVEL_TYPE, entryMfn, type TableLevel } from './page-types.js';
import { batchArgs, getPgOwner, halves, readWords, vcpuMask, writeDone } from './guest-args.js';
import { hex, type PvMmImpl } from './pv-mm.js';

function einval(domid: number, detail: string): GuestError {
  return new GuestError('EINVAL', `pv-mm: ${detail}`, { domid });
}

/** The frame `mfn` if `domid` owns it (get_page_from_gfn for a PV domain: gfn = mfn), else EINVAL. */
function ownedFrame(mm: PvMmImpl, mfn: number, domid: number, what: string): number {
  const owner = mfn < mm.ctx.memory.totalFrames ? mm.ctx.memory.ownerOf(mfn as MachineFrame) : undefined;
  if (owner !== domid) throw einval(domid, `${what}: mfn ${hex(mfn)} is not dom${domid}'s${owner === undefined ? '' : ` (owner dom${owner})`}`);
  return mfn;
}

/**
 * MMU_NORMAL_PT_UPDATE / PRESERVE_AD / NO_TRANSLATE: the entry at machine address `ptr` of a frame
 * of `ptOwner` becomes `(lo, hi)`. A validated table goes through mod_lN_entry (upper levels only for
 * the owner's own frames); any other frame of the owner is written as plain memory, as Xen does for a
 * writable page. Returns whether a present entry changed.
 */
function normalUpdate(mm: PvMmImpl, ptrLo: number, ptrHi: number, lo: number, hi: number, cmd: number, ptOwner: number, pgOwner: number): boolean {
  if (mm.ctx.domains.get(ptOwner)?.mode !== 'pv') throw new GuestError('EOPNOTSUPP', `pv-mm: dom${ptOwner}'s tables are not PV tables`, { domid: ptOwner });
  const mfn = ownedFrame(mm, entryMfn(ptrLo, ptrHi), ptOwner, 'normal update');
  const index = (ptrLo & 0xff8) >>> 3;
  const rec = mm.types.record(mfn);
  if (rec === undefined || rec.type === 'writable') {
    const words = mm.ctx.memory.frameWords(mfn as MachineFrame);
    words[2 * index] = lo;
    words[2 * index + 1] = hi;
    return false;
  }
  const level = LEVEL_TYPE.indexOf(rec.type);
  if (level < 1) throw einval(ptOwner, `mfn ${hex(mfn)} is in use as ${rec.type}`);
  if (level > 1 && pgOwner !== ptOwner) throw einval(ptOwner, `L${level} update of mfn ${hex(mfn)} with a foreign page owner`);
  return mm.modEntry(level as TableLevel, mfn, index, lo, hi, cmd === MMU.PT_UPDATE_PRESERVE_AD, ptOwner, pgOwner);
}

/** MMU_MACHPHYS_UPDATE: machine_to_phys_mapping[mfn] = `pfn`, for a frame of the page owner. */
function machphysUpdate(mm: PvMmImpl, caller: number, ptOwner: number, pgOwner: number, ptrLo: number, ptrHi: number, pfn: number): void {
  if (caller !== ptOwner) throw new GuestError('EPERM', 'pv-mm: M2P update with a foreign table owner', { domid: caller });
  if (mm.ctx.domains.get(pgOwner)?.mode !== 'pv') throw einval(caller, `dom${pgOwner} is not a PV domain: it has no M2P entries`);
  const mfn = ownedFrame(mm, entryMfn(ptrLo, ptrHi), pgOwner, 'M2P update');
  mm.setM2p(pgOwner, mfn as MachineFrame, pfn);
}

/**
 * do_mmu_update(reqs, count, pdone, foreigndom): applies the requests in order and stops at the first
 * refused one; `*pdone` gets the number applied either way. `foreigndom` bits 15:0 name the owner of
 * the mapped frames (DOMID_SELF), bits 31:16 (plus one) the owner of the tables. Never preempts; a
 * continuation's `count` (MMU_UPDATE_PREEMPTED) resumes from `*pdone`. The tables' owner's TLBs are
 * flushed once when a present entry changed.
 */
export function doMmuUpdate(mm: PvMmImpl, caller: HypercallContext, args: HypercallArgs): number {
  const { list: reqs, count, pdone, foreigndom, done } = batchArgs(caller, args, MmuUpdate.size, 'mmu_update', 'requests');
  const d = caller.domid;
  let ptOwner: number = d;
  const ptDom = foreigndom >>> 16;
  if (ptDom !== 0) {
    if (mm.ctx.domains.get(ptDom - 1) === undefined) throw new GuestError('ESRCH', `pv-mm: unknown table owner dom${ptDom - 1}`, { domid: d });
    ptOwner = ptDom - 1;
  }
  let i = 0;
  let failure: GuestError | undefined;
  let changed = false;
  try {
    if (ptOwner !== d && !caller.privileged) throw new GuestError('EPERM', `pv-mm: dom${d} may not update dom${ptOwner}'s tables`, { domid: d });
    const pgOwner = getPgOwner(mm, caller, foreigndom & 0xffff);
    for (; i < count; i++) {
      const at = reqs + i * MmuUpdate.size;
      const [ptrLo, ptrHi] = readWords(caller.guest, at + MmuUpdate.ptr);
      const [lo, hi] = readWords(caller.guest, at + MmuUpdate.val);
      const cmd = ptrLo & 7;
      switch (cmd) {
        case MMU.NORMAL_PT_UPDATE:
        case MMU.PT_UPDATE_PRESERVE_AD:
        case MMU.PT_UPDATE_NO_TRANSLATE:
          if (normalUpdate(mm, (ptrLo - cmd) >>> 0, ptrHi, lo, hi, cmd, ptOwner, pgOwner)) changed = true;
          break;
        case MMU.MACHPHYS_UPDATE:
          machphysUpdate(mm, d, ptOwner, pgOwner, ptrLo, ptrHi, hi * 2 ** 32 + lo);
          break;
        default:
          throw new GuestError('ENOSYS', `pv-mm: mmu_update command ${cmd}`, { domid: d });
      }
      mm.statsOf(d).updates++;
    }
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
    failure = error;
  }
  if (changed) mm.flush(ptOwner, undefined);
  writeDone(caller.guest, pdone, done + i);
  if (failure !== undefined) {
    mm.refused(d, 'mmu_update', failure);
    throw failure;
  }
  return 0;
}

/** map_guest_l1e: the L1 table and slot translating `va` through the vCPU's current tables, or EINVAL. */
export function mapGuestL1e(mm: PvMmImpl, domid: number, vcpu: number, va: number): { table: number; index: number } {
  const base = mm.baseTable(domid, vcpu);
  const folded = foldCanonical(va);
  if (base === 0 || folded < 0) throw einval(domid, base === 0 ? `vcpu${vcpu} has no page tables` : `non-canonical address ${va}`);
  let table = base;
  for (let level = 4; level > 1; level--) {
    const words = mm.ctx.memory.frameWords(table as MachineFrame);
    const i = Math.floor(folded / LEVEL_SPAN[level]!) & 511;
    const lo = words[2 * i]!;
    if ((lo & PTE_P) === 0 || (lo & PTE_PS) !== 0) throw einval(domid, `no L1 table maps ${hex(folded)} (L${level} entry ${i} of mfn ${hex(table)})`);
    table = entryMfn(lo, words[2 * i + 1]!);
  }
  return { table, index: Math.floor(folded / LEVEL_SPAN[1]) & 511 };
}

/**
 * __do_update_va_mapping(va, val, flags): the L1 entry mapping `va` in the caller's current tables
 * becomes `val` (a 64-bit value; above 2^53 only page-exact in a number), then the TLBs `flags` name are
 * flushed (UVMF_TLB_FLUSH or UVMF_INVLPG; LOCAL, ALL, or a pointer to a vCPU bitmap) — after a refusal too.
 */
export function doUpdateVaMapping(mm: PvMmImpl, caller: HypercallContext, args: HypercallArgs): number {
  const va = args[0] ?? 0;
  const [lo, hi] = halves(args[1] ?? 0);
  const flags = args[2] ?? 0;
  const d = caller.domid;
  let failure: GuestError | undefined;
  try {
    const { table, index } = mapGuestL1e(mm, d, caller.vcpuId, va);
    const rec = mm.types.record(ownedFrame(mm, table, d, 'update_va_mapping'));
    if (rec?.type !== 'l1') throw einval(d, `mfn ${hex(table)} mapping ${hex(va)} is not an L1 table`);
    if (mm.modEntry(1, table, index, lo, hi, false, d, d)) mm.flush(d, undefined);
    mm.statsOf(d).updates++;
  } catch (error) {
    if (!(error instanceof GuestError)) throw error;
    failure = error;
  }
  const type = flags % 4;
  const which = flags - type;
  if (type === UVMF.TLB_FLUSH || type === UVMF.INVLPG) {
    try {
      const vcpus = which === UVMF.LOCAL ? [caller.vcpuId] : which === UVMF.ALL ? undefined : vcpuMask(mm, caller.guest, d, which);
      mm.flush(d, vcpus, type === UVMF.INVLPG ? va : undefined);
    } catch (error) {
      if (!(error instanceof GuestError)) throw error;
      failure ??= error;
    }
  }
  if (failure !== undefined) {
    mm.refused(d, 'update_va_mapping', failure);
    throw failure;
  }
  return 0;
}
