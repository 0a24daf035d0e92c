/** What the memory_op files share: per-domain state, the target-domain check, guest_remove_page and P2M queries. */
import { PvMm } from '../api/pv-mm.js';
import type { Domain } from '../api/domain.js';
import type { HypercallContext } from '../api/hypercall.js';
import { P2mType } from '../api/memory.js';
import { GuestError } from '../api/errors.js';
import type { HypervisorContext } from '../host/subsystem.js';
import { entryFrame, type EptP2m } from './p2m.js';
import { EPT_P2MT_SHIFT_HI, EPT_PS, EPT_RWX } from '../public/paging.js';
import { PT_ENTRIES } from '../public/memory.js';
import { DOMID_SELF } from '../public/xen.js';
import { guestFrame, type GuestFrame, type MachineFrame } from '../public/types.js';

/** Guest frames are below 2^36: the P2M is a 4-level EPT (48-bit guest-physical addresses). */
export const GFN_LIMIT = 2 ** 36;
/** Guest-physical address bits (getdomaininfo's gpaddr_bits). */
export const GPADDR_BITS = 48;

/** One E820 entry. */
export interface E820Region {
  readonly addr: bigint;
  readonly size: bigint;
  readonly type: number;
}

/** memory_op's per-domain state. */
export interface MemoryOpDomainState {
  /** The map XENMEM_set_memory_map gave; undefined until then. */
  e820: E820Region[] | undefined;
  /** Special (xenheap) frames mapped into the physmap — shared info, grant frames — and the gfn each is at. Never freed by a physmap change. */
  readonly special: Map<MachineFrame, GuestFrame>;
}

/** The context and state every memory_op function works on. */
export interface MemoryOpEnv {
  readonly ctx: HypervisorContext;
  state(domid: number): MemoryOpDomainState;
}

/** XENMEMF/XENMAPSPACE operations a PV guest may not use on a domain it does not translate (Xen: paging_mode_translate). */
export function isTranslated(d: Domain): boolean {
  return d.mode !== 'pv';
}

/**
 * `rcu_lock_domain_by_any_id` + XSM_TARGET: DOMID_SELF or the caller's own id is the caller; any other
 * domain needs privilege. ESRCH when it does not exist, EPERM when the caller may not touch it.
 */
export function targetDomain(env: MemoryOpEnv, caller: HypercallContext, domid: number, what: string): Domain {
  if (domid === DOMID_SELF) return env.ctx.domains.lookup(caller.domid);
  const d = env.ctx.domains.get(domid);
  if (d === undefined) throw new GuestError('ESRCH', `${what}: no domain ${domid}`, { domid: caller.domid });
  if (d.domid !== caller.domid && !caller.privileged) throw new GuestError('EPERM', `${what}: dom${caller.domid} may not act on dom${domid}`, { domid: caller.domid });
  return d;
}

/** The domain's P2M (every live domain has one). */
export function p2mOf(env: MemoryOpEnv, d: Domain): EptP2m {
  const p2m = env.ctx.p2mOf(d.domid);
  if (p2m === undefined) throw new GuestError('ESRCH', `dom${d.domid} has no P2M (being destroyed)`, { domid: d.domid });
  return p2m;
}

export function isRamType(type: number): boolean {
  return type === P2mType.ram_rw || type === P2mType.ram_ro || type === P2mType.ram_logdirty;
}

/** True when `mfn` is a frame Xen would call special (xenheap) for `d`: its shared info or a grant frame it mapped. */
export function isSpecialFrame(env: MemoryOpEnv, d: Domain, mfn: MachineFrame): boolean {
  return env.ctx.sharedInfoOf(d.domid)?.mfn === mfn || env.state(d.domid).special.has(mfn);
}

/** A u64 read as a bigint, as a frame number when it is one (below 2^53), else -1. */
export function frameNumber(value: bigint): number {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : -1;
}

/** The PV memory manager (page types, the M2P), when the host runs one. */
export function pvMmOf(env: MemoryOpEnv): PvMm | undefined {
  return env.ctx.container.isRegistered(PvMm) ? env.ctx.container.resolve(PvMm) : undefined;
}

/**
 * Xen's guest_remove_page: unmaps `gfn` and frees its frame back to the host when it is ordinary RAM of
 * `d`; a special frame is only unhooked, an MMIO entry only cleared. Throws (changing nothing) when
 * there is nothing to remove (EINVAL) or the entry is not `d`'s own memory (ENXIO).
 */
export function guestRemovePage(env: MemoryOpEnv, d: Domain, p2m: EptP2m, gfn: number): void {
  const where = { domid: d.domid };
  const entry = gfn >= 0 && gfn < GFN_LIMIT ? p2m.lookup(guestFrame(gfn)) : undefined;
  if (entry === undefined) throw new GuestError('EINVAL', `dom${d.domid} has no page at gfn 0x${gfn.toString(16)}`, where);
  if (entry.type === P2mType.mmio_direct) {
    p2m.clear(guestFrame(gfn));
    return;
  }
  if (!isRamType(entry.type) || env.ctx.memory.ownerOf(entry.mfn) !== d.domid) {
    throw new GuestError('ENXIO', `dom${d.domid}: gfn 0x${gfn.toString(16)} is not its own memory`, where);
  }
  // Xen keeps a frame a PV table still maps until the last mapping goes; we refuse to release it instead.
  if (d.mode === 'pv' && pvMmOf(env)?.inUse(entry.mfn) === true) {
    throw new GuestError('EBUSY', `dom${d.domid}: gfn 0x${gfn.toString(16)} (mfn 0x${entry.mfn.toString(16)}) is still mapped by a page table or used as one`, where);
  }
  p2m.clear(guestFrame(gfn));
  const special = env.state(d.domid).special;
  if (special.has(entry.mfn)) special.delete(entry.mfn);
  else if (env.ctx.sharedInfoOf(d.domid)?.mfn !== entry.mfn) d.freePage(entry.mfn);
}

/**
 * The highest guest frame the P2M maps (Xen's max_mapped_pfn, though Xen keeps a high-water mark), or
 * -1 when none: a walk of the EPT from the top, highest index first, each candidate confirmed by lookup.
 */
export function highestMappedGfn(env: MemoryOpEnv, p2m: EptP2m): number {
  const memory = env.ctx.memory;
  const search = (mfn: number, level: number, base: number): number => {
    const words = memory.frameWords(mfn as MachineFrame);
    const span = PT_ENTRIES ** (level - 1);
    for (let i = PT_ENTRIES - 1; i >= 0; i--) {
      const lo = words[i * 2]!;
      const hi = words[i * 2 + 1]!;
      const first = base + i * span;
      if (level === 1 || (level === 2 && (lo & EPT_PS) !== 0)) {
        const type = (hi >>> EPT_P2MT_SHIFT_HI) & 0x3f;
        const last = first + span - 1;
        if (lo !== 0 && type !== P2mType.invalid && p2m.lookup(guestFrame(last)) !== undefined) return last;
      } else if ((lo & EPT_RWX) !== 0) {
        const found = search(entryFrame(lo, hi), level - 1, first);
        if (found >= 0) return found;
      }
    }
    return -1;
  };
  return p2m.entryCount === 0 ? -1 : search(p2m.rootMfn, 4, 0);
}
