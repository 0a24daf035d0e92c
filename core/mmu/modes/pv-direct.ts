/** `pv-direct`: a PV guest's page tables hold machine frames, so the walk reads machine memory directly. */
import type { AccessMask, MachineMemory, PagingContext, PagingMode, WalkResult } from '../../api/memory.js';
import { WalkFlag, WalkStatus } from '../../api/memory.js';
import { PAGE_SIZE } from '../../public/memory.js';
import type { MachineFrame } from '../../public/types.js';
import { GuestPageWalker } from '../guest-walker.js';

const S2_ALL = WalkFlag.s2read | WalkFlag.s2write | WalkFlag.s2exec;

/** The walker of a PV vCPU: table addresses and the final address are machine addresses. */
export class PvDirectWalker extends GuestPageWalker {
  constructor(private readonly memory: MachineMemory) {
    super();
  }

  protected tableWords(addr: number): Uint32Array {
    return this.memory.frameWords((addr / PAGE_SIZE) as MachineFrame);
  }

  protected finish(gpa: number, guestSize: number, _access: AccessMask, out: WalkResult): WalkStatus {
    out.maddr = gpa;
    out.pageSize = guestSize;
    out.flags |= S2_ALL;
    out.status = WalkStatus.ok;
    return WalkStatus.ok;
  }
}

/** The `pv-direct` paging mode. */
export const pvDirectMode: PagingMode = {
  name: 'pv-direct',
  needsP2m: false,
  createWalker: (context: PagingContext) => new PvDirectWalker(context.memory),
};
