/** The hardware's second-stage walk: guest-physical → machine through EPT tables in machine memory. */
import { type MachineMemory, P2mType } from '../api/memory.js';
import type { MachineFrame } from '../public/types.js';
import { EPT_P2MT_MASK_HI, EPT_P2MT_SHIFT_HI, EPT_PS, EPT_RWX, PTE_ADDR_MASK_HI } from '../public/paging.js';
import { LEVEL_SPAN, TWO_32 } from './address.js';


/**
 * Walks a 4-level EPT from its root frame, one memory reference per level, and keeps the outcome in its
 * fields (no allocation): `maddr`, the effective `access` (EPT_R/W/X, ANDed over levels), the leaf's
 * `pageSize` and `p2mType`, and `refs`.
 */
export class EptWalk {
  maddr = 0;
  access = 0;
  pageSize = 0;
  p2mType: number = P2mType.invalid;
  refs = 0;

  constructor(
    private readonly memory: MachineMemory,
    private readonly rootMfn: number,
  ) {}

  /** Translates `gpa`; false when some level's entry is not present (no R/W/X bit). */
  walk(gpa: number): boolean {
    let words = this.memory.frameWords(this.rootMfn as MachineFrame);
    let access = EPT_RWX;
    for (let level = 4; level >= 1; level--) {
      const i = ((gpa / LEVEL_SPAN[level]!) & 511) << 1;
      const lo = words[i]!;
      const hi = words[i + 1]!;
      this.refs++;
      const perms = lo & EPT_RWX;
      if (perms === 0) {
        const leaf = level === 1 || (level <= 3 && (lo & EPT_PS) !== 0);
        this.p2mType = leaf && (lo | hi) !== 0 ? (hi & EPT_P2MT_MASK_HI) >>> EPT_P2MT_SHIFT_HI : P2mType.invalid;
        this.access = 0;
        return false;
      }
      access &= perms;
      if (level === 1 || (level <= 3 && (lo & EPT_PS) !== 0)) {
        const size = LEVEL_SPAN[level]!;
        const base = (hi & PTE_ADDR_MASK_HI) * TWO_32 + ((lo & ~(size - 1) & 0xfffff000) >>> 0);
        this.maddr = base + (gpa & (size - 1));
        this.pageSize = size;
        this.access = access;
        this.p2mType = (hi & EPT_P2MT_MASK_HI) >>> EPT_P2MT_SHIFT_HI;
        return true;
      }
      words = this.memory.frameWords(((hi & PTE_ADDR_MASK_HI) * 2 ** 20 + (lo >>> 12)) as MachineFrame);
    }
    return false;
  }
}
