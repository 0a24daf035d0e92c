/** Memory contracts: machine frames, a domain's P2M, the narrow guest-memory view, and paging modes. */
import type { InjectionToken } from 'tsyringe';
import type { DomId, GuestFrame, GuestPhysAddr, MachineFrame } from '../public/types.js';

/**
 * The host's physical memory as 4 KiB machine frames. A frame's bytes exist only once touched, so a
 * large idle guest costs little. Every frame has at most one owner; the core refuses accesses that
 * neither ownership nor a grant allows.
 */
export interface MachineMemory {
  /** Frames the host has in all. */
  readonly totalFrames: number;
  /** Frames not owned by anyone. */
  readonly freeFrames: number;
  /** Frames whose bytes have been allocated (touched at least once since they were last freed). */
  readonly backedFrames: number;
  /**
   * Takes `count` free frames for `owner`, lowest first. All or nothing: throws `GuestError('ENOMEM')`
   * and takes none when fewer are free. Frames come back zeroed.
   */
  allocate(owner: DomId, count: number): MachineFrame[];
  /**
   * Takes 2^`order` contiguous free frames aligned to their size (Xen's alloc_domheap_pages with an
   * order: a 2 MiB superpage is order 9) and returns the first. `GuestError('ENOMEM')` when no such run is free.
   */
  allocateExtent(owner: DomId, order: number): MachineFrame;
  /** Returns one frame to the free pool. Throws if it is not owned by `owner`. */
  free(owner: DomId, mfn: MachineFrame): void;
  /** Frees every frame `owner` holds; returns how many. */
  releaseAll(owner: DomId): number;
  /** The owner of a frame, or `undefined` when it is free or out of range. */
  ownerOf(mfn: MachineFrame): DomId | undefined;
  /** The first frame of [mfn, mfn + count) (mfn ≥ 0) that `owner` does not hold, or −1 when it holds them all (one pass: a superpage's check). */
  firstNotOwned(owner: DomId, mfn: MachineFrame, count: number): number;
  /** How many frames `owner` holds. */
  framesOf(owner: DomId): number;
  /** True when the frame's bytes exist (an unbacked frame reads as zeroes). */
  isBacked(mfn: MachineFrame): boolean;
  /**
   * The frame's 4096 bytes (allocated on first touch). Only the core calls this; it checks access
   * first. Throws `HardwareError` for a free or out-of-range frame.
   */
  frameBytes(mfn: MachineFrame): Uint8Array;
  /** The same bytes as 1024 little-endian u32 words: how page walkers read 64-bit entries. */
  frameWords(mfn: MachineFrame): Uint32Array;
}
export const MachineMemory = Symbol.for('xenoserver:MachineMemory') as InjectionToken<MachineMemory>;

/**
 * What a device model or backend sees of one guest's memory: guest-physical reads and writes that go
 * through the IOMMU/P2M checks. Out-of-range or unowned addresses throw; nothing partial is written.
 */
export interface GuestMemory {
  read(addr: GuestPhysAddr, length: number): Uint8Array;
  write(addr: GuestPhysAddr, data: Uint8Array): void;
  readU32(addr: GuestPhysAddr): number;
  writeU32(addr: GuestPhysAddr, value: number): void;
}
export const GuestMemory = Symbol.for('xenoserver:GuestMemory') as InjectionToken<GuestMemory>;

/** Xen's `p2m_type_t` (xen/arch/x86/include/asm/p2m.h), same numbering: it is stored in EPT entries. */
export const P2mType = {
  ram_rw: 0,
  invalid: 1,
  ram_logdirty: 2,
  ram_ro: 3,
  mmio_dm: 4,
  mmio_direct: 5,
  populate_on_demand: 6,
  grant_map_rw: 13,
  grant_map_ro: 14,
  map_foreign: 15,
} as const;
export type P2mType = (typeof P2mType)[keyof typeof P2mType];
export type P2mTypeName = keyof typeof P2mType;

/** One P2M translation. */
export interface P2mEntry {
  readonly mfn: MachineFrame;
  readonly type: P2mType;
  /** 4096 or 2 MiB. */
  readonly pageSize: number;
}

/** Called after an existing P2M entry changed or was removed: TLBs and shadows caching it must go. */
export type P2mChangeListener = (gfn: GuestFrame, count: number) => void;

/**
 * A domain's physical-to-machine map. Held as real 4-level EPT tables in frames owned by DOMID_XEN,
 * so a hardware (HAP) walk reads real memory; the hypervisor's own lookups use a JS-side index.
 */
export interface P2m {
  readonly domid: DomId;
  /** Root (PML4) table frame of the EPT. */
  readonly rootMfn: MachineFrame;
  /** The EPT pointer value: root address, write-back walks, 4 levels. */
  readonly eptp: number;
  /** Guest frames mapped (a 2 MiB entry counts 512). */
  readonly entryCount: number;
  /** Machine frames used by the tables (root included). */
  readonly tableFrameCount: number;
  /** Maps `gfn` to `mfn` with `type`, replacing any entry (a 2 MiB entry covering it is split). */
  set(gfn: GuestFrame, mfn: MachineFrame, type: P2mType): void;
  /** Maps 512 frames at once with a 2 MiB entry; `gfn` and `mfn` must be 512-aligned. */
  setLarge(gfn: GuestFrame, mfn: MachineFrame, type: P2mType): void;
  /** Removes the entry for `gfn`; returns whether there was one. */
  clear(gfn: GuestFrame): boolean;
  lookup(gfn: GuestFrame): P2mEntry | undefined;
  /** Every mapped frame as (gfn, mfn, type), in increasing gfn order (a 2 MiB entry gives its 512 frames). */
  entries(): IterableIterator<[gfn: GuestFrame, mfn: MachineFrame, type: P2mType]>;
  /** Hot-path lookups without allocation: the machine frame, or -1 when unmapped. */
  mfnOf(gfn: GuestFrame): number;
  /** The entry's type, or `P2mType.invalid` when unmapped. */
  typeOf(gfn: GuestFrame): P2mType;
  /** Registers a listener for changes to present entries; returns its remover. */
  onChange(listener: P2mChangeListener): () => void;
  /** Frees every table frame. The P2M is unusable afterwards. */
  destroy(): void;
}

/** Access kinds, as bits of the page-fault error code: read is 0. Combine with `|`. */
export const Access = {
  read: 0,
  write: 1 << 1,
  user: 1 << 2,
  exec: 1 << 4,
} as const;
/** A combination of {@link Access} bits. */
export type AccessMask = number;

/** Converts `{write, user, exec}` to an {@link AccessMask}. */
export function accessMask(access: { write?: boolean; user?: boolean; exec?: boolean }): AccessMask {
  return (access.write ? Access.write : 0) | (access.user ? Access.user : 0) | (access.exec ? Access.exec : 0);
}

/** What a walk ended with. */
export const WalkStatus = {
  ok: 0,
  /** A guest page fault (#PF): deliver to the guest. */
  pageFault: 1,
  /** A second-stage (EPT/P2M) fault: a VM exit the hypervisor handles (Xen's hvm_hap_nested_page_fault). */
  nestedFault: 2,
} as const;
export type WalkStatus = (typeof WalkStatus)[keyof typeof WalkStatus];

/** Bits of {@link WalkResult.flags}: the guest's leaf permissions and the second stage's. */
export const WalkFlag = {
  /** Writable at every guest level. */
  write: 1 << 0,
  /** User-accessible at every guest level. */
  user: 1 << 1,
  /** No-execute at some guest level (with EFER.NXE). */
  nx: 1 << 2,
  /** Global leaf. */
  global: 1 << 3,
  /** Dirty leaf. */
  dirty: 1 << 4,
  /** Second stage allows read / write / execute (all set when there is no second stage). */
  s2read: 1 << 5,
  s2write: 1 << 6,
  s2exec: 1 << 7,
} as const;

/**
 * A walk's outcome, written in place by a {@link PageWalker} so translation allocates nothing.
 * On success: `maddr`, `pageSize`, `flags`. On failure: the fault fields. Always: `refs`, `extraCycles`.
 */
export interface WalkResult {
  status: WalkStatus;
  /** Machine address of the byte translated. */
  maddr: number;
  /** Size of the translation that may be cached: 4 KiB, 2 MiB or 1 GiB. */
  pageSize: number;
  flags: number;
  /** Memory references made (both stages). */
  refs: number;
  /** Cycles spent beyond the references (e.g. a shadow fill's VM exit). */
  extraCycles: number;
  /** #PF error code (PFEC_* bits) or, for a nested fault, the access bits of the failing access. */
  errorCode: number;
  /** Guest level (4..1) whose entry failed; 0 for a nested fault on the final access. */
  level: number;
  /** For a nested fault: the guest-physical address the second stage refused. */
  gpa: number;
  /** For a nested fault: the P2M type found (P2mType.invalid when unmapped). */
  p2mType: number;
  /** What went wrong, for messages: `not present`, `reserved bit set`, `not writable`... */
  reason: string;
}

/** Control-register state a walk depends on, as bits of the `control` argument of {@link PageWalker.walk}. */
export const WalkControl = {
  /** CR0.WP: supervisor writes honour read-only pages. */
  wp: 1 << 0,
  /** EFER.NXE: the NX bit is honoured (otherwise it is a reserved bit). */
  nxe: 1 << 1,
} as const;

/** What a paging mode gets to build a walker for one vCPU. */
export interface PagingContext {
  readonly domid: DomId;
  readonly memory: MachineMemory;
  /** The domain's P2M; absent for PV guests, whose tables hold machine frames. */
  readonly p2m?: P2m;
  /** Cycles of a VM exit, for modes that take one (shadow fills). */
  readonly vmExitCycles: number;
}

/**
 * How one vCPU's page walks read guest tables (Xen's `struct paging_mode`). The MMU calls `walk` on a
 * TLB miss with the canonical address folded to 48 bits (0 ≤ va < 2^48).
 */
export interface PageWalker {
  walk(cr3: number, va: number, access: AccessMask, control: number, out: WalkResult): WalkStatus;
  /** The guest wrote to a page-table page (shadow modes resynchronise). */
  onGuestPageTableWrite?(gfn: GuestFrame): void;
  /** The guest executed INVLPG for `va`. */
  invlpg?(va: number): void;
  /** The guest loaded CR3. */
  onCr3Write?(cr3: number): void;
  dispose?(): void;
}

/** A paging mode: an ops object chosen by name (`pv-direct`, `hap`, `shadow`, or one a plugin adds). */
export interface PagingMode {
  readonly name: string;
  /** True when the mode needs the domain's P2M. */
  readonly needsP2m: boolean;
  createWalker(context: PagingContext): PageWalker;
}

/** The host's paging modes by name. A guest-mode plugin may add its own. */
export interface PagingModes {
  register(mode: PagingMode): void;
  get(name: string): PagingMode;
  has(name: string): boolean;
  names(): string[];
}
/** A domain's P2M, registered in the domain's own container. */
export const P2m = Symbol.for('xenoserver:P2m') as InjectionToken<P2m>;
export const PagingModes = Symbol.for('xenoserver:PagingModes') as InjectionToken<PagingModes>;

/**
 * A hypercall handler's view of its caller's memory — Xen's copy_from_guest / copy_to_guest. Addresses
 * are the caller's: guest-virtual while its paging is on, guest-physical while it is off. Every page is
 * checked before any byte moves; a failure throws `GuestError('EFAULT')` naming the domain, vCPU and
 * address. Multi-byte values are little-endian. 64-bit values above 2^53 need the `Big` variants.
 */
export interface GuestAccess {
  read(addr: number, length: number): Uint8Array;
  /** Reads `into.length` bytes into `into` (a caller's reusable buffer: the allocation-free form of `read`). */
  readInto(addr: number, into: Uint8Array): void;
  write(addr: number, data: Uint8Array): void;
  readU8(addr: number): number;
  readU16(addr: number): number;
  readU32(addr: number): number;
  /** A u64 as a number: exact below 2^53; values with bit 63 set come back negative (sign-extended addresses). */
  readU64(addr: number): number;
  readU64Big(addr: number): bigint;
  writeU8(addr: number, value: number): void;
  writeU16(addr: number, value: number): void;
  writeU32(addr: number, value: number): void;
  /** Writes a u64 given as a number (negative numbers are written two's-complement). */
  writeU64(addr: number, value: number): void;
  writeU64Big(addr: number, value: bigint): void;
}
