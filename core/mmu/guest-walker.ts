/** The x86-64 4-level page walk, shared by every paging mode; modes decide how table and final addresses reach memory. */
import { Access, type AccessMask, type PageWalker, type WalkResult, WalkControl, WalkFlag, WalkStatus } from '../api/memory.js';
import {
  PFEC_INSN,
  PFEC_PRESENT,
  PFEC_RSVD,
  PTE_A,
  PTE_ADDR_1G_LO,
  PTE_ADDR_2M_LO,
  PTE_ADDR_MASK_HI,
  PTE_ADDR_MASK_LO,
  PTE_D,
  PTE_G,
  PTE_NX_HI,
  PTE_P,
  PTE_PS,
  PTE_RSVD_1G_LO,
  PTE_RSVD_2M_LO,
  PTE_RSVD_HI,
  PTE_RW,
  PTE_US,
} from '../public/paging.js';
import { PAGE_MASK } from '../public/memory.js';
import { nestedFault, pageFault, resetWalkResult } from './walk-result.js';
import { LEVEL_SPAN, TWO_32 } from './address.js';


/**
 * A walk from CR3 through PML4, PDPT, PD and PT. Per level: one reference, present and reserved-bit
 * checks, RW/US/NX accumulation; a PS leaf ends the walk at 1 GiB (L3) or 2 MiB (L2). Accessed is set
 * on every level used and Dirty on the leaf of a write — only once the walk has succeeded at that point.
 *
 * Subclasses implement {@link tableWords} (where a table address points in machine memory) and
 * {@link finish} (the second stage for the final address).
 */
export abstract class GuestPageWalker implements PageWalker {
  /** Set by {@link tableWords}: may the walker write A/D bits into the table just returned? */
  protected tableWritable = true;
  /** Set by {@link tableWords}: the table's p2m type, for a nested fault on an A/D update. */
  protected tableP2mType = 0;

  /**
   * The 1024 words of the guest table at `addr` (as the guest's entries hold it), adding any
   * second-stage references to `out.refs`; `null` after filling `out` with a nested fault.
   */
  protected abstract tableWords(addr: number, level: number, out: WalkResult): Uint32Array | null;

  /**
   * Second stage of the final access: `gpa` is the guest-physical address the guest tables produced for
   * `va`, within a guest page of `guestSize` bytes. Fills `out.maddr`, `out.pageSize` and the s2 flags.
   */
  protected abstract finish(gpa: number, guestSize: number, access: AccessMask, out: WalkResult): WalkStatus;

  walk(cr3: number, va: number, access: AccessMask, control: number, out: WalkResult): WalkStatus {
    resetWalkResult(out);
    return this.walkGuest(cr3, va, access, control, out);
  }

  /** The guest walk proper, without resetting `out` (subclasses that add refs first call this). */
  protected walkGuest(cr3: number, va: number, access: AccessMask, control: number, out: WalkResult): WalkStatus {
    const nxe = (control & WalkControl.nxe) !== 0;
    const rsvdHi = nxe ? PTE_RSVD_HI : PTE_RSVD_HI | PTE_NX_HI;
    const code = nxe ? access : access & ~PFEC_INSN;
    let table = cr3 - (cr3 & PAGE_MASK);
    let allowed = PTE_RW | PTE_US;
    let nx = 0;
    for (let level = 4; level >= 1; level--) {
      const words = this.tableWords(table, level, out);
      if (words === null) return WalkStatus.nestedFault;
      out.refs++;
      const i = ((va / LEVEL_SPAN[level]!) & 511) << 1;
      const lo = words[i]!;
      const hi = words[i + 1]!;
      if ((lo & PTE_P) === 0) return pageFault(out, level, code, 'not present');
      const leaf = level === 1 || (level <= 3 && (lo & PTE_PS) !== 0);
      if (
        (hi & rsvdHi) !== 0 ||
        (level === 4 && (lo & PTE_PS) !== 0) ||
        (leaf && level === 2 && (lo & PTE_RSVD_2M_LO) !== 0) ||
        (leaf && level === 3 && (lo & PTE_RSVD_1G_LO) !== 0)
      ) {
        return pageFault(out, level, code | PFEC_PRESENT | PFEC_RSVD, 'has a reserved bit set');
      }
      allowed &= lo;
      nx |= hi & PTE_NX_HI;
      if (!leaf) {
        if ((lo & PTE_A) === 0) {
          if (!this.tableWritable) return nestedFault(out, table + i * 4, Access.write, this.tableP2mType, level);
          words[i] = lo | PTE_A;
        }
        table = (hi & PTE_ADDR_MASK_HI) * TWO_32 + ((lo & PTE_ADDR_MASK_LO) >>> 0);
        continue;
      }
      if ((access & Access.user) !== 0 && (allowed & PTE_US) === 0) return pageFault(out, level, code | PFEC_PRESENT, 'is supervisor-only');
      if ((access & Access.write) !== 0 && (allowed & PTE_RW) === 0 && ((access & Access.user) !== 0 || (control & WalkControl.wp) !== 0)) {
        return pageFault(out, level, code | PFEC_PRESENT, 'is read-only');
      }
      if ((access & Access.exec) !== 0 && nx !== 0 && nxe) return pageFault(out, level, code | PFEC_PRESENT, 'is no-execute');
      const want = (access & Access.write) !== 0 ? PTE_A | PTE_D : PTE_A;
      if ((lo & want) !== want) {
        if (!this.tableWritable) return nestedFault(out, table + i * 4, Access.write, this.tableP2mType, level);
        words[i] = lo | want;
      }
      const size = LEVEL_SPAN[level]!;
      const baseLo = level === 1 ? lo & PTE_ADDR_MASK_LO : level === 2 ? lo & PTE_ADDR_2M_LO : lo & PTE_ADDR_1G_LO;
      const gpa = (hi & PTE_ADDR_MASK_HI) * TWO_32 + (baseLo >>> 0) + (va & (size - 1));
      out.flags =
        ((allowed & PTE_RW) !== 0 ? WalkFlag.write : 0) |
        ((allowed & PTE_US) !== 0 ? WalkFlag.user : 0) |
        (nx !== 0 && nxe ? WalkFlag.nx : 0) |
        ((lo & PTE_G) !== 0 ? WalkFlag.global : 0) |
        (((lo | want) & PTE_D) !== 0 ? WalkFlag.dirty : 0);
      return this.finish(gpa, size, access, out);
    }
    return WalkStatus.pageFault;
  }
}
