/** A vCPU's MMU: control registers, a TLB, and a paging mode's walker; translates and charges cycles. */
import { HardwareError } from '../api/errors.js';
import { Access, type AccessMask, type MachineMemory, type P2m, type PageWalker, type PagingMode, WalkControl, WalkFlag, WalkStatus } from '../api/memory.js';
import { type CostModel, DEFAULT_COST_MODEL } from '../engine/cost-model.js';
import type { Engine } from '../engine/engine.js';
import { TraceKind } from '../engine/trace.js';
import { PAGE_OK, PAGE_SLOW, PAGE_ZERO } from '../memory/guest-memory.js';
import { PAGE_MASK, PAGE_SIZE } from '../public/memory.js';
import { X86_CR0_PG, X86_CR0_WP, X86_CR4_PGE, X86_EFER_NXE } from '../public/paging.js';
import type { DomId, GuestFrame, GuestVirtAddr, MachineAddr, MachineFrame } from '../public/types.js';
import { CANONICAL_LOW_END, foldCanonical } from './address.js';
import { NestedPageFault, NonCanonicalAddress, PageFault } from './faults.js';
import { permitMask } from './permissions.js';
import { Tlb, type TlbOptions } from './tlb.js';
import { newWalkResult } from './walk-result.js';

/** What an {@link Mmu} is built from. */
export interface MmuOptions {
  domid: DomId;
  vcpu: number;
  memory: MachineMemory;
  mode: PagingMode;
  /** The domain's P2M (needed by `hap` and `shadow`). */
  p2m?: P2m;
  /** Costs in force; defaults to the engine's, then to the defaults. */
  cost?: CostModel;
  /** When given, guest page faults are recorded on its trace. */
  engine?: Engine;
  tlb?: TlbOptions;
}

/** Counters of one MMU since it was made. */
export interface MmuStats {
  hits: number;
  misses: number;
  /** Walks made: every miss walks (a faulting walk included). */
  walks: number;
  memoryRefs: number;
  pageFaults: number;
  nestedFaults: number;
  /** Cycles charged in all (also accumulated for {@link Mmu.takeCycles}). */
  cycles: number;
}

/**
 * Translation for one vCPU. `translate` tries the TLB (cost `tlbHit`), else walks through the paging
 * mode (cost `tlbMiss` + `pageWalkRef` per reference + the mode's extra) and caches the result. Faults
 * throw {@link PageFault}, {@link NestedPageFault} or {@link NonCanonicalAddress}.
 */
export class Mmu {
  readonly domid: DomId;
  readonly vcpu: number;
  readonly mode: string;
  readonly tlb: Tlb;
  private readonly walker: PageWalker;
  private readonly memory: MachineMemory;
  private readonly engine: Engine | undefined;
  private readonly result = newWalkResult();
  private hits = 0;
  private misses = 0;
  private memoryRefs = 0;
  private pageFaults = 0;
  private nestedFaults = 0;
  private chargedCycles = 0;
  private readonly hitCycles: number;
  private readonly missCycles: number;
  private readonly refCycles: number;
  private readonly unsubscribe: (() => void) | undefined;
  private pending = 0;
  private cr0_ = X86_CR0_PG | X86_CR0_WP;
  private cr3_ = 0;
  private cr4_ = 0;
  private efer_ = X86_EFER_NXE;
  private control = WalkControl.wp | WalkControl.nxe;

  constructor(options: MmuOptions) {
    this.domid = options.domid;
    this.vcpu = options.vcpu;
    this.memory = options.memory;
    this.engine = options.engine;
    this.mode = options.mode.name;
    if (options.mode.needsP2m && options.p2m === undefined) {
      throw new HardwareError('mmu', `paging mode ${options.mode.name} needs the domain's p2m`, { domid: options.domid });
    }
    const cost = options.cost ?? options.engine?.cost ?? DEFAULT_COST_MODEL;
    this.hitCycles = cost.tlbHit;
    this.missCycles = cost.tlbMiss;
    this.refCycles = cost.pageWalkRef;
    this.tlb = new Tlb(options.tlb);
    this.walker = options.mode.createWalker({
      domid: options.domid,
      memory: options.memory,
      ...(options.p2m !== undefined ? { p2m: options.p2m } : {}),
      vmExitCycles: cost.vmExit,
    });
    // A changed P2M entry invalidates combined translations (Xen's ept_sync_domain).
    this.unsubscribe = options.mode.needsP2m ? options.p2m?.onChange(() => this.tlb.flush()) : undefined;
  }

  // --- translation -------------------------------------------------------------------------------

  /** The machine address of `vaddr` for `access` (see `Access`); throws on a fault. */
  translate(vaddr: GuestVirtAddr | number, access: AccessMask = Access.read): MachineAddr {
    return this.translateFolded(vaddr >= 0 && vaddr < CANONICAL_LOW_END ? vaddr : this.fold(vaddr), access);
  }

  /** {@link translate} of an address already folded to 48 bits. */
  private translateFolded(va: number, access: AccessMask): MachineAddr {
    const maddr = this.tlb.lookup(va, access);
    if (maddr >= 0) {
      this.hits++;
      this.pending += this.hitCycles;
      return maddr as MachineAddr;
    }
    return this.miss(va, access);
  }

  /**
   * The allocation-free path of an access inside one page (nearly every hypercall argument and ring
   * index): translates through the TLB (walking on a miss, charged as {@link translate}) and leaves the
   * frame's bytes in {@link pageBytes} and the offset in {@link pageOffset}. Returns PAGE_OK, PAGE_ZERO
   * (a read of a frame never written: reads as zeros) or PAGE_SLOW (the access crosses a page or the
   * address is not a plain low-half integer: use {@link readVirt}/{@link writeVirt}). Faults throw as
   * {@link translate} does. Nothing is cached across calls, so TLB flushes and CR3 writes stay coherent.
   */
  page(vaddr: number, length: number, write: boolean): number {
    const offset = vaddr & PAGE_MASK;
    if (!(vaddr >= 0 && vaddr < CANONICAL_LOW_END && length > 0 && offset + length <= PAGE_SIZE && Number.isInteger(vaddr))) return PAGE_SLOW;
    const vpn = Math.floor(vaddr / PAGE_SIZE);
    // The TLB entries of the last four pages, copied here with their frames (valid while the TLB's epoch
    // holds): a hit answered as the TLB would answer it, without touching the TLB's arrays.
    const epoch = this.tlb.epoch;
    let hit: Uint8Array | null = null;
    if (this.m0Vpn === vpn && this.m0Epoch === epoch && (this.m0Write || !write)) hit = this.m0Bytes;
    else if (this.m1Vpn === vpn && this.m1Epoch === epoch && (this.m1Write || !write)) hit = this.m1Bytes;
    else if (this.m2Vpn === vpn && this.m2Epoch === epoch && (this.m2Write || !write)) hit = this.m2Bytes;
    else if (this.m3Vpn === vpn && this.m3Epoch === epoch && (this.m3Write || !write)) hit = this.m3Bytes;
    if (hit !== null) {
      this.hits++;
      this.pending += this.hitCycles;
      this.pageBytes = hit;
      this.pageOffset = offset;
      return PAGE_OK;
    }
    const maddr = this.translateFolded(vaddr, write ? Access.write : Access.read);
    const mfn = Math.floor(maddr / PAGE_SIZE) as MachineFrame;
    if (!write && !this.memory.isBacked(mfn)) return PAGE_ZERO;
    const bytes = this.memory.frameBytes(mfn);
    this.pageBytes = bytes;
    this.pageOffset = maddr & PAGE_MASK;
    this.remember(vpn, this.tlb.epoch, write, bytes);
    return PAGE_OK;
  }

  /** Keeps a page {@link page} translated in the next of its four copies, round robin. */
  private remember(vpn: number, epoch: number, write: boolean, bytes: Uint8Array): void {
    switch (this.memoNext) {
      case 0:
        [this.m0Vpn, this.m0Epoch, this.m0Write, this.m0Bytes] = [vpn, epoch, write, bytes];
        break;
      case 1:
        [this.m1Vpn, this.m1Epoch, this.m1Write, this.m1Bytes] = [vpn, epoch, write, bytes];
        break;
      case 2:
        [this.m2Vpn, this.m2Epoch, this.m2Write, this.m2Bytes] = [vpn, epoch, write, bytes];
        break;
      default:
        [this.m3Vpn, this.m3Epoch, this.m3Write, this.m3Bytes] = [vpn, epoch, write, bytes];
    }
    this.memoNext = (this.memoNext + 1) & 3;
  }

  // {@link page}'s four copies of TLB entries (page number, TLB epoch, whether a write went through,
  // the frame's bytes): fields of the MMU itself, so a hit reads one object rather than an array of four.
  private m0Vpn = -1;
  private m0Epoch = -1;
  private m0Write = false;
  private m0Bytes: Uint8Array | null = null;
  private m1Vpn = -1;
  private m1Epoch = -1;
  private m1Write = false;
  private m1Bytes: Uint8Array | null = null;
  private m2Vpn = -1;
  private m2Epoch = -1;
  private m2Write = false;
  private m2Bytes: Uint8Array | null = null;
  private m3Vpn = -1;
  private m3Epoch = -1;
  private m3Write = false;
  private m3Bytes: Uint8Array | null = null;
  private memoNext = 0;

  /** After {@link page} returned PAGE_OK: the machine frame's bytes. */
  pageBytes: Uint8Array | null = null;
  /** After {@link page} returned PAGE_OK: where the access starts in {@link pageBytes}. */
  pageOffset = 0;

  /** Reads `length` bytes of guest-virtual memory; every page is translated before any byte is read. */
  readVirt(vaddr: GuestVirtAddr | number, length: number, access: AccessMask = Access.read): Uint8Array {
    const out = new Uint8Array(length);
    const pieces = this.translateRange(vaddr, length, access & ~Access.write);
    let done = 0;
    for (let i = 0; i < pieces.length; i += 2) {
      const maddr = pieces[i]!;
      const n = pieces[i + 1]!;
      const mfn = Math.floor(maddr / PAGE_SIZE) as MachineFrame;
      if (this.memory.isBacked(mfn)) out.set(this.memory.frameBytes(mfn).subarray(maddr & PAGE_MASK, (maddr & PAGE_MASK) + n), done);
      done += n;
    }
    return out;
  }

  /** Writes `data` to guest-virtual memory; every page is translated (and may fault) before any byte moves. */
  writeVirt(vaddr: GuestVirtAddr | number, data: Uint8Array, access: AccessMask = Access.write): void {
    const pieces = this.translateRange(vaddr, data.length, access | Access.write);
    let done = 0;
    for (let i = 0; i < pieces.length; i += 2) {
      const maddr = pieces[i]!;
      const n = pieces[i + 1]!;
      this.memory.frameBytes(Math.floor(maddr / PAGE_SIZE) as MachineFrame).set(data.subarray(done, done + n), maddr & PAGE_MASK);
      done += n;
    }
  }

  // --- control registers and TLB maintenance ----------------------------------------------------

  get cr0(): number {
    return this.cr0_;
  }
  get cr3(): number {
    return this.cr3_;
  }
  get cr4(): number {
    return this.cr4_;
  }
  get efer(): number {
    return this.efer_;
  }

  /** MOV to CR3: switches tables and flushes the TLB, keeping global entries when CR4.PGE is set. */
  writeCr3(value: number): void {
    this.cr3_ = value;
    this.tlb.flush((this.cr4_ & X86_CR4_PGE) !== 0);
    this.walker.onCr3Write?.(value);
  }

  /** MOV to CR0. A change of WP or PG flushes the TLB. Paging off is not modelled: translate always walks. */
  writeCr0(value: number): void {
    const changed = (this.cr0_ ^ value) & (X86_CR0_WP | X86_CR0_PG);
    this.cr0_ = value >>> 0;
    if (changed !== 0) this.controlChanged();
  }

  /** MOV to CR4. A change of PGE flushes everything, global entries included. */
  writeCr4(value: number): void {
    const changed = (this.cr4_ ^ value) & X86_CR4_PGE;
    this.cr4_ = value >>> 0;
    if (changed !== 0) this.tlb.flush();
  }

  /** WRMSR EFER. A change of NXE flushes the TLB. */
  writeEfer(value: number): void {
    const changed = (this.efer_ ^ value) & X86_EFER_NXE;
    this.efer_ = value;
    if (changed !== 0) this.controlChanged();
  }

  /** INVLPG: drops the translation of `vaddr`, global or not. */
  invlpg(vaddr: GuestVirtAddr | number): void {
    const va = foldCanonical(vaddr);
    if (va < 0) return;
    this.tlb.invlpg(va);
    this.walker.invlpg?.(va);
  }

  /** Flushes every TLB entry, global ones included (INVPCID all-context, or a CR4.PGE toggle). */
  flushTlb(): void {
    this.tlb.flush();
  }

  /** Tells the paging mode that the guest wrote a page-table page (shadow modes resynchronise). */
  onGuestPageTableWrite(gfn: GuestFrame): void {
    this.walker.onGuestPageTableWrite?.(gfn);
  }

  // --- accounting --------------------------------------------------------------------------------

  /** A snapshot of the counters. */
  get stats(): Readonly<MmuStats> {
    return {
      hits: this.hits,
      misses: this.misses,
      walks: this.misses,
      memoryRefs: this.memoryRefs,
      pageFaults: this.pageFaults,
      nestedFaults: this.nestedFaults,
      cycles: this.chargedCycles + this.pending,
    };
  }

  /** Cycles spent translating since the last call; the CPU charges them to the vCPU. */
  takeCycles(): number {
    const cycles = this.pending;
    this.chargedCycles += cycles;
    this.pending = 0;
    return cycles;
  }

  /** Releases the paging mode's state and P2M subscriptions. */
  dispose(): void {
    this.unsubscribe?.();
    this.walker.dispose?.();
  }

  // --- helpers -----------------------------------------------------------------------------------

  private miss(va: number, access: AccessMask): MachineAddr {
    const r = this.result;
    this.misses++;
    const status = this.walker.walk(this.cr3_, va, access, this.control, r);
    this.memoryRefs += r.refs;
    this.pending += this.missCycles + r.refs * this.refCycles + r.extraCycles;
    if (status !== WalkStatus.ok) throw this.fault(va);
    const global = (r.flags & WalkFlag.global) !== 0 && (this.cr4_ & X86_CR4_PGE) !== 0;
    this.tlb.insert(va, r.pageSize, r.maddr - (va & (r.pageSize - 1)), permitMask(r.flags, this.control), global);
    return r.maddr as MachineAddr;
  }

  private fault(va: number): Error {
    const r = this.result;
    if (r.status === WalkStatus.nestedFault) {
      this.nestedFaults++;
      return new NestedPageFault(r.gpa, va, r.errorCode, r.p2mType, r.level, this.domid, this.vcpu);
    }
    this.pageFaults++;
    this.engine?.trace.record(this.engine.now, TraceKind.PageFault, this.domid, this.vcpu, va, r.errorCode, r.level);
    return new PageFault(va, r.errorCode, r.level, r.reason, this.domid, this.vcpu);
  }

  private fold(vaddr: number): number {
    const va = foldCanonical(vaddr);
    if (va < 0) throw new NonCanonicalAddress(vaddr, this.domid, this.vcpu);
    return va;
  }

  /** Translates every page of a range first: [maddr, length] pairs. */
  private translateRange(vaddr: number, length: number, access: AccessMask): number[] {
    const pieces: number[] = [];
    let va = foldCanonical(vaddr);
    if (va < 0) throw new NonCanonicalAddress(vaddr, this.domid, this.vcpu);
    let left = length;
    while (left > 0) {
      const n = Math.min(left, PAGE_SIZE - (va & PAGE_MASK));
      pieces.push(this.translateFolded(va, access), n);
      va += n;
      if (va === CANONICAL_LOW_END) throw new NonCanonicalAddress(va, this.domid, this.vcpu);
      if (va === 2 ** 48) va = 0;
      left -= n;
    }
    return pieces;
  }

  private controlChanged(): void {
    this.control = ((this.cr0_ & X86_CR0_WP) !== 0 ? WalkControl.wp : 0) | ((this.efer_ & X86_EFER_NXE) !== 0 ? WalkControl.nxe : 0);
    this.tlb.flush();
  }
}
