/** `hap`: hardware-assisted paging. Guest tables hold guest-physical addresses; every one goes through the EPT. */
import { Access, type AccessMask, type MachineMemory, type PagingContext, type PagingMode, type WalkResult, WalkFlag, WalkStatus } from '../../api/memory.js';
import { HardwareError } from '../../api/errors.js';
import { PAGE_SIZE } from '../../public/memory.js';
import { EPT_R, EPT_W, EPT_X } from '../../public/paging.js';
import type { MachineFrame } from '../../public/types.js';
import { EptWalk } from '../ept-walk.js';
import { GuestPageWalker } from '../guest-walker.js';
import { nestedFault } from '../walk-result.js';

function s2Flags(eptAccess: number): number {
  return (eptAccess & EPT_R ? WalkFlag.s2read : 0) | (eptAccess & EPT_W ? WalkFlag.s2write : 0) | (eptAccess & EPT_X ? WalkFlag.s2exec : 0);
}

/**
 * The nested walk of a HAP vCPU: each guest table address and the final address is translated by an
 * EPT walk of the domain's P2M tables. A cold 4-level walk over a 4-level EPT makes 4 × (4 + 1) + 4 = 24
 * memory references.
 */
export class HapWalker extends GuestPageWalker {
  private readonly ept: EptWalk;

  constructor(
    private readonly memory: MachineMemory,
    rootMfn: number,
  ) {
    super();
    this.ept = new EptWalk(memory, rootMfn);
  }

  protected tableWords(addr: number, level: number, out: WalkResult): Uint32Array | null {
    const ept = this.ept;
    ept.refs = 0;
    const ok = ept.walk(addr);
    out.refs += ept.refs;
    if (!ok || (ept.access & EPT_R) === 0) {
      nestedFault(out, addr, Access.read, ept.p2mType, level);
      return null;
    }
    this.tableWritable = (ept.access & EPT_W) !== 0;
    this.tableP2mType = ept.p2mType;
    return this.memory.frameWords((ept.maddr / PAGE_SIZE) as MachineFrame);
  }

  protected finish(gpa: number, guestSize: number, access: AccessMask, out: WalkResult): WalkStatus {
    const ept = this.ept;
    ept.refs = 0;
    const ok = ept.walk(gpa);
    out.refs += ept.refs;
    const need = access & Access.exec ? EPT_X : access & Access.write ? EPT_W : EPT_R;
    if (!ok || (ept.access & need) === 0) return nestedFault(out, gpa, access, ept.p2mType, 0);
    out.maddr = ept.maddr;
    out.pageSize = Math.min(guestSize, ept.pageSize);
    out.flags |= s2Flags(ept.access);
    out.status = WalkStatus.ok;
    return WalkStatus.ok;
  }
}

/** The `hap` paging mode (EPT on Intel, NPT on AMD). */
export const hapMode: PagingMode = {
  name: 'hap',
  needsP2m: true,
  createWalker(context: PagingContext) {
    if (context.p2m === undefined) throw new HardwareError('paging-mode', 'paging mode hap needs the domain\'s p2m', { domid: context.domid });
    return new HapWalker(context.memory, context.p2m.rootMfn);
  },
};
