/**
 * `shadow`: guest tables hold guest-physical addresses; the hypervisor walks them in software through the
 * P2M and caches the combined translation (the shadow), which the hardware then walks.
 */
import { Access, type AccessMask, type MachineMemory, type P2m, type PagingContext, type PagingMode, type WalkResult, WalkFlag, WalkStatus } from '../../api/memory.js';
import { HardwareError } from '../../api/errors.js';
import type { GuestFrame, MachineFrame } from '../../public/types.js';
import { PAGE_MASK, PAGE_SIZE } from '../../public/memory.js';
import { EPT_R, EPT_W, EPT_X } from '../../public/paging.js';
import { p2mTypeAccess } from '../../memory/p2m.js';
import { GuestPageWalker } from '../guest-walker.js';
import { permitMask } from '../permissions.js';
import { nestedFault, resetWalkResult } from '../walk-result.js';

/** References the hardware makes walking the 4-level shadow tables. */
const SHADOW_WALK_REFS = 4;

interface Shadow {
  /** Machine address of the 4 KiB page. */
  readonly mbase: number;
  readonly flags: number;
  readonly permit: number;
}

/**
 * The shadow walker of one vCPU. A hit in the shadow costs the hardware's 4-reference walk; a miss is a
 * shadow fault: a VM exit, the software walk of the guest tables (which sets the guest's A/D bits), and
 * the fill. Guest superpages are shadowed as 4 KiB pieces (Xen's FL1 shadows). Shadows stay valid across
 * CR3 writes; a guest write to a page-table page drops those built from it ({@link onGuestPageTableWrite}),
 * and any change of a present P2M entry or of CR0.WP/EFER.NXE drops them all.
 */
export class ShadowWalker extends GuestPageWalker {
  /** Shadows per guest top-level table, by 4 KiB virtual page number. */
  private readonly shadows = new Map<number, Map<number, Shadow>>();
  /** Guest page-table gfn → the shadows built from it, as [root, vpn] pairs. */
  private readonly builtFrom = new Map<number, number[]>();
  private readonly usedTables: number[] = [];
  private size = 0;
  /** Pairs held in `builtFrom`, stale ones included; bounded like the shadows themselves. */
  private backRefs = 0;
  private control = -1;
  private readonly unsubscribe: () => void;
  /** Shadow faults taken (fills and faulting fills). */
  fills = 0;

  constructor(
    private readonly memory: MachineMemory,
    private readonly p2m: P2m,
    private readonly vmExitCycles: number,
    private readonly capacity = 1 << 16,
  ) {
    super();
    this.unsubscribe = p2m.onChange(() => this.dropAll());
  }

  /** Shadow entries held. */
  get shadowCount(): number {
    return this.size;
  }

  override walk(cr3: number, va: number, access: AccessMask, control: number, out: WalkResult): WalkStatus {
    resetWalkResult(out);
    if (control !== this.control) {
      this.dropAll();
      this.control = control;
    }
    const root = cr3 - (cr3 & PAGE_MASK);
    const vpn = Math.floor(va / PAGE_SIZE);
    let table = this.shadows.get(root);
    const shadow = table?.get(vpn);
    if (shadow !== undefined && ((shadow.permit >>> access) & 1) !== 0) {
      out.refs = SHADOW_WALK_REFS;
      out.maddr = shadow.mbase + (va & PAGE_MASK);
      out.pageSize = PAGE_SIZE;
      out.flags = shadow.flags;
      return WalkStatus.ok;
    }
    this.fills++;
    out.extraCycles = this.vmExitCycles;
    this.usedTables.length = 0;
    const status = this.walkGuest(cr3, va, access, control, out);
    if (status !== WalkStatus.ok) return status;
    out.refs += SHADOW_WALK_REFS;
    if (this.size >= this.capacity || this.backRefs >= 4 * this.capacity) this.dropAll();
    if (table === undefined) {
      table = new Map();
      this.shadows.set(root, table);
    }
    if (!table.has(vpn)) this.size++;
    table.set(vpn, { mbase: out.maddr - (va & PAGE_MASK), flags: out.flags, permit: permitMask(out.flags, control) });
    for (const gfn of this.usedTables) {
      const list = this.builtFrom.get(gfn);
      if (list === undefined) this.builtFrom.set(gfn, [root, vpn]);
      else list.push(root, vpn);
    }
    this.backRefs += this.usedTables.length;
    return WalkStatus.ok;
  }

  onGuestPageTableWrite(gfn: GuestFrame): void {
    const list = this.builtFrom.get(gfn);
    if (list === undefined) return;
    this.builtFrom.delete(gfn);
    this.backRefs -= list.length / 2;
    for (let i = 0; i < list.length; i += 2) {
      if (this.shadows.get(list[i]!)?.delete(list[i + 1]!)) this.size--;
    }
  }

  invlpg(va: number): void {
    const vpn = Math.floor(va / PAGE_SIZE);
    for (const table of this.shadows.values()) if (table.delete(vpn)) this.size--;
  }

  dispose(): void {
    this.unsubscribe();
    this.dropAll();
  }

  protected tableWords(addr: number, level: number, out: WalkResult): Uint32Array | null {
    const gfn = Math.floor(addr / PAGE_SIZE) as GuestFrame;
    const mfn = this.p2m.mfnOf(gfn);
    const type = this.p2m.typeOf(gfn);
    const access = p2mTypeAccess(type);
    if (mfn < 0 || (access & EPT_R) === 0) {
      nestedFault(out, addr, Access.read, type, level);
      return null;
    }
    this.usedTables.push(gfn);
    this.tableWritable = (access & EPT_W) !== 0;
    this.tableP2mType = type;
    return this.memory.frameWords(mfn as MachineFrame);
  }

  protected finish(gpa: number, _guestSize: number, access: AccessMask, out: WalkResult): WalkStatus {
    const gfn = Math.floor(gpa / PAGE_SIZE) as GuestFrame;
    const mfn = this.p2m.mfnOf(gfn);
    const type = this.p2m.typeOf(gfn);
    const allowed = p2mTypeAccess(type);
    const need = access & Access.exec ? EPT_X : access & Access.write ? EPT_W : EPT_R;
    if (mfn < 0 || (allowed & need) === 0) return nestedFault(out, gpa, access, type, 0);
    out.maddr = mfn * PAGE_SIZE + (gpa & PAGE_MASK);
    out.pageSize = PAGE_SIZE;
    out.flags |= (allowed & EPT_R ? WalkFlag.s2read : 0) | (allowed & EPT_W ? WalkFlag.s2write : 0) | (allowed & EPT_X ? WalkFlag.s2exec : 0);
    out.status = WalkStatus.ok;
    return WalkStatus.ok;
  }

  private dropAll(): void {
    this.shadows.clear();
    this.builtFrom.clear();
    this.size = 0;
    this.backRefs = 0;
  }
}

/** The `shadow` paging mode. */
export const shadowMode: PagingMode = {
  name: 'shadow',
  needsP2m: true,
  createWalker(context: PagingContext) {
    if (context.p2m === undefined) throw new HardwareError('paging-mode', 'paging mode shadow needs the domain\'s p2m', { domid: context.domid });
    return new ShadowWalker(context.memory, context.p2m, context.vmExitCycles);
  },
};
