/** Domains and their vCPUs: the registry, the vCPU handle other modules hold, and the program contract guest code runs under. */
import type { DependencyContainer, InjectionToken } from 'tsyringe';
import type { EventEmitter } from 'eventemitter3';
import type { DomId, MachineFrame, PcpuId, VcpuId } from '../public/types.js';
import type { CostName } from '../engine/cost-model.js';
import type { VcpuContext } from '../cpu/vcpu-context.js';
import type { CpuMask } from './scheduler.js';
import type { CpuidResult } from './platform.js';
import type { GuestAccess, GuestMemory, P2m } from './memory.js';
import type { MmioAccessSize, PortAccessSize } from './io.js';

export type { VcpuContext, VcpuContextRecord } from '../cpu/vcpu-context.js';

/** How a guest is virtualized; each mode has a column in the hypercall table. */
export const GUEST_MODES = ['pv', 'hvm', 'pvhvm', 'pvh'] as const;
export type GuestMode = (typeof GUEST_MODES)[number];

import type { RunstateName } from '../public/vcpu.js';
export { RUNSTATE, type RunstateName } from '../public/vcpu.js';

/** `VCPUOP_get_runstate_info`: the current state, when it was entered, and total ns spent in each. */
export interface RunstateInfo {
  readonly state: RunstateName;
  readonly stateEntryTime: number;
  readonly time: Readonly<Record<RunstateName, number>>;
}

export { SHUTDOWN, type ShutdownReason } from '../public/sched.js';
import type { ShutdownReason } from '../public/sched.js';

// ---------------------------------------------------------------------------------------------
// The program contract: guest and Dom0 code run as coroutines on vCPUs.

/**
 * A blocking operation, yielded by a program. Non-blocking work (compute, hypercalls, memory accesses)
 * is a plain call on {@link VcpuApi}; only these hand control back to the scheduler.
 */
export type VcpuRequest =
  /** SCHEDOP_block: sleep until an event or interrupt is pending (returns at once if one is). */
  | { readonly op: 'block' }
  /** HLT: the same wake-up condition as block, for HVM guests with interrupts enabled. */
  | { readonly op: 'halt' }
  /** Sleep until virtual time `until` (ns); events do not end it early. */
  | { readonly op: 'sleep'; readonly until: number }
  /** SCHEDOP_yield: give up the rest of the slice, stay runnable. */
  | { readonly op: 'yield' }
  /** SCHEDOP_poll: like block, but also ends at `timeout` (absolute ns; 0 = no timeout). */
  | { readonly op: 'poll'; readonly timeout: number }
  /** A preemption point: continues at once unless the vCPU's slice or quantum is used up. */
  | { readonly op: 'preempt' }
  /**
   * Waits for the I/O access this vCPU just made to be completed by a device model (Xen's
   * hvm_wait_for_io): events and interrupts do not end it. Yielded by {@link VcpuApi.inPort} and friends.
   */
  | { readonly op: 'io' };

/** Why a blocking request returned: an event/interrupt became pending, its timeout passed, or it simply continued. */
export type WakeReason = 'event' | 'timeout' | 'continue';

/** A program's coroutine: yields only requests, receives why it resumed. */
export type VcpuCoroutine = Generator<VcpuRequest, void, WakeReason>;

/**
 * What code running on a vCPU may do. Calls run synchronously and advance the vCPU's local clock,
 * which may run ahead of global time by at most one quantum. The runner regains control only at a
 * `yield`, so a long computation must contain preemption points (`yield v.preempt()`), or use `yield* v.burn(n)`.
 */
export interface VcpuApi {
  readonly domid: DomId;
  readonly vcpuId: VcpuId;
  /** The vCPU's local clock, ns. */
  readonly now: number;
  /** The register file. */
  readonly regs: VcpuContext;
  /**
   * Memory as this vCPU sees it: virtual addresses translated by its paging mode (PV: machine-backed
   * pseudo-physical direct map; HVM/PVH: the guest's page tables when paging is on, else guest-physical),
   * charged as memory accesses. Faults are `GuestError('EFAULT')`.
   */
  readonly memory: GuestAccess;
  /** Spends `cycles` of computation. */
  compute(cycles: number): void;
  /** Charges `times` × the cost-model entry `cost` (e.g. `memoryAccess`). */
  charge(cost: CostName, times?: number): void;
  /**
   * Makes hypercall `nr`; returns its result (≥ 0) or −errno. Never throws. A hypercall that blocks
   * (SCHEDOP_block, poll, yield; a shutdown or VCPUOP_down of the caller itself) does not block here:
   * its request is honoured at the program's next `yield` — in place of a preemption point, or dropped
   * in favour of a blocking request the program yields itself. Use {@link hypercallBlocking} for those.
   */
  hypercall(nr: number, a0?: number, a1?: number, a2?: number, a3?: number, a4?: number): number;
  /**
   * Makes hypercall `nr` and, if its handler asked the caller to block, yields that request before
   * returning the hypercall's result: `const rc = yield* v.hypercallBlocking(Hypercall.sched_op, SCHEDOP.block)`.
   * SCHEDOP_block/poll return 0 once woken (an event, or poll's timeout), as Xen does.
   */
  hypercallBlocking(nr: number, a0?: number, a1?: number, a2?: number, a3?: number, a4?: number): Generator<VcpuRequest, number, unknown>;
  block(): VcpuRequest;
  halt(): VcpuRequest;
  sleepUntil(time: number): VcpuRequest;
  sleepFor(ns: number): VcpuRequest;
  /** SCHEDOP_yield. */
  yield(): VcpuRequest;
  poll(timeout?: number): VcpuRequest;
  preempt(): VcpuRequest;
  /** Spends `cycles` split at preemption points: `yield* v.burn(n)`. */
  burn(cycles: number): VcpuCoroutine;
  /** CPUID. Xen's leaves 0x40000000+ answer as Xen's; for HVM and PVH guests it is a traced VM exit. */
  cpuid(leaf: number, subleaf?: number): CpuidResult;
  /** RDMSR. MSRs the platform does not emulate raise #GP: a `HardwareError` with code `gp`. */
  rdmsr(msr: number): bigint;
  /** WRMSR (e.g. the hypercall-page MSR). Unemulated MSRs or bad values raise #GP as `HardwareError('gp')`. */
  wrmsr(msr: number, value: bigint): void;
  /**
   * `in` of `size` bytes from I/O port `port`. HVM: a VM exit, handled in the hypervisor or forwarded to
   * the domain's device model, while the vCPU waits (`yield* v.inPort(0x3f8 + 5, 1)`). PV: the
   * instruction traps and is emulated (PV guests own no I/O ports unless granted: reads give all ones).
   * PVH: no device model — unclaimed ports read all ones, writes are dropped. Never throws for a port nobody claims.
   */
  inPort(port: number, size: PortAccessSize): Generator<VcpuRequest, number, unknown>;
  /** `out` of `value` (`size` bytes) to I/O port `port`; see {@link inPort}. */
  outPort(port: number, size: PortAccessSize, value: number): Generator<VcpuRequest, void, unknown>;
  /**
   * An uncached read of device memory at guest-physical `addr` (FreeBSD's bus_space_read): the local
   * APIC and IO-APIC are emulated in the hypervisor, anything else a device model claimed is forwarded
   * (the vCPU waits). Unclaimed addresses read all ones (Xen's null handler), counted as wild accesses.
   * Values are unsigned; an 8-byte access returns a number (the low 53 bits are exact).
   */
  mmioRead(addr: number, size: MmioAccessSize): Generator<VcpuRequest, number, unknown>;
  /** An uncached write of device memory; see {@link mmioRead}. Unclaimed addresses drop the write. */
  mmioWrite(addr: number, size: MmioAccessSize, value: number): Generator<VcpuRequest, void, unknown>;
  /**
   * Takes the highest-priority interrupt the vCPU's local APIC may deliver now (IRR → ISR), as the CPU
   * does when RFLAGS.IF is set: returns its vector, or −1 when none is deliverable. A kernel calls it
   * where it runs with interrupts enabled (its idle loop, after `halt`). The handler ends with an EOI
   * (an MMIO write to the APIC's EOI register, or the x2APIC MSR). PV and PVH domains have no
   * emulated APIC: always −1 (their events arrive as upcalls).
   */
  acceptInterrupt(): number;
  /**
   * A privileged instruction other than I/O, executed directly. PV: it traps and is emulated (slowly:
   * `trapEmulate` is charged, and the trap counted); an instruction Xen does not emulate raises #GP
   * (`HardwareError('gp')`). HVM/PVH: executed in hardware or a VM exit, as the domain's paging and
   * guest mode decide. Returns the value read (`read-cr*`), else 0.
   */
  privileged(insn: PrivilegedInstruction, operand?: number): number;
}

/** Privileged instructions {@link VcpuApi.privileged} executes. */
export type PrivilegedInstruction = 'read-cr0' | 'write-cr0' | 'read-cr3' | 'write-cr3' | 'read-cr4' | 'write-cr4' | 'invlpg' | 'wbinvd' | 'cli' | 'sti' | 'lidt' | 'lgdt';

/** A program for a vCPU: a generator function that yields only when it blocks. */
export type VcpuProgram = (vcpu: VcpuApi) => VcpuCoroutine;

/** A vCPU as other modules see it: its identity, its scheduling state, and `kick()` to wake it. */
export interface Vcpu {
  readonly domid: DomId;
  readonly vcpuId: VcpuId;
  readonly context: VcpuContext;
  readonly runstate: RunstateName;
  /** Runstate with times brought up to the current virtual time. */
  runstateInfo(): RunstateInfo;
  /** The pCPU whose runqueue holds it (where it last ran or will run). */
  readonly processor: PcpuId;
  readonly hardAffinity: CpuMask;
  /** The local clock: ahead of global time while the vCPU runs. */
  readonly localTime: number;
  /** False after VCPUOP_down (or before VCPUOP_up). */
  readonly isUp: boolean;
  readonly hasProgram: boolean;
  /** Starts `program` on this vCPU (replacing any other); `null` leaves it idle-blocked. */
  setProgram(program: VcpuProgram | null): void;
  /** An event or interrupt is pending for this vCPU: wake it if it blocks, or make its next block return at once. */
  kick(): void;
  /** Adds a source of pending events (e.g. the evtchn upcall flag, a LAPIC's IRR) that `block` checks; adding one twice does nothing. */
  addPendingSource(source: PendingSource): void;
  removePendingSource(source: PendingSource): void;
  /** Pins the vCPU. The mask must contain at least one pCPU of the pool (else `GuestError('EINVAL')`). */
  setHardAffinity(mask: CpuMask): void;
  /** VCPUOP_up / VCPUOP_down. */
  up(): void;
  down(): void;
}

// ---------------------------------------------------------------------------------------------
// Domains.

/**
 * As `xl list` shows it: `running` (a vCPU runs or wants to), `blocked` (all vCPUs wait), `paused`,
 * `shutdown` (see `shutdownReason`; `crash` is a shutdown), `dying` (being destroyed), `dead`.
 */
export type DomainState = 'running' | 'blocked' | 'paused' | 'shutdown' | 'dying' | 'dead';
/** Codes of {@link DomainState} in `TraceKind.DomainState` records (field a). */
export const DOMAIN_STATE_CODE: Readonly<Record<DomainState, number>> = { running: 0, blocked: 1, paused: 2, shutdown: 3, dying: 4, dead: 5 };

/**
 * Something that can hold an event or interrupt for a vCPU — the event-channel upcall flag, a vLAPIC's
 * IRR — which SCHEDOP_block and HLT check. An object rather than a closure: every vCPU has one or two.
 */
export interface PendingSource {
  /** True when vCPU `vcpu` has something pending from this source. */
  hasPending(vcpu: number): boolean;
}

/** A domain: identity, state, vCPUs, memory reservation and its own DI container. */
export interface Domain {
  readonly domid: DomId;
  readonly name: string;
  /** Dom0 (domain 0) is privileged: it may make domctl, sysctl, platform_op. */
  readonly privileged: boolean;
  readonly mode: GuestMode;
  readonly state: DomainState;
  /** Set once the domain has shut down (or is shutting down). */
  readonly shutdownReason: ShutdownReason | undefined;
  /** Xen's `pause_count`: the domain runs only at 0. */
  readonly pauseCount: number;
  readonly vcpus: readonly Vcpu[];
  /** Pages the domain holds (`tot_pages`). */
  readonly totPages: number;
  /** The most pages it may hold (`max_pages`). */
  readonly maxPages: number;
  /**
   * The domain's hypervisor-side state, as Xen keeps it in `struct domain`: its P2M, its guest-physical
   * memory view, its shared-info page and its HVM params. Set by the core before `created` is emitted.
   */
  readonly p2m: P2m;
  readonly guestMemory: GuestMemory;
  readonly sharedInfo: SharedInfoPage;
  readonly hvmParams: HvmParams;
  /**
   * The domain's child container, for per-domain services a plugin registers; made on first use (most
   * domains never need one) with the four state objects above registered under their tokens, and
   * disposed when the domain is destroyed.
   */
  readonly container: DependencyContainer;
  /** Takes `count` machine frames from the host for this domain; `GuestError('E2BIG')` past max_pages, `ENOMEM` when the host is short. */
  allocatePages(count: number): MachineFrame[];
  /** Adds a 2^`order`-frame contiguous, aligned extent to the reservation (populate_physmap with extent_order); returns its first frame. */
  allocateExtent(order: number): MachineFrame;
  /** Gives one of the domain's frames back to the host. */
  freePage(mfn: MachineFrame): void;
  /** XEN_DOMCTL_max_mem. May be below `totPages` (the domain just cannot grow). */
  setMaxPages(pages: number): void;
}

export interface DomainCreateOptions {
  /** An explicit domid (Dom0 is 0); omitted: the next free one, as Xen allocates. */
  domid?: number;
  name?: string;
  mode?: GuestMode;
  /** Number of vCPUs (default 1). */
  vcpus?: number;
  /** `max_pages` (default 0: no memory until raised). */
  maxPages?: number;
  /** Pages to allocate at once (default 0). */
  pages?: number;
  /** Xen creates domains paused for the builder; default true. */
  paused?: boolean;
  /** Hard affinity of every vCPU (default: all pCPUs). */
  affinity?: CpuMask;
}

/** Events of the domain registry. */
export interface DomainEvents {
  created: [domain: Domain];
  /**
   * A change of lifecycle, pause or shutdown (traced as `TraceKind.DomainState`). A live domain going
   * between `running` and `blocked` is not one: as in Xen, its `state` just says which it is when read.
   */
  stateChanged: [domain: Domain, from: DomainState, to: DomainState];
  /** Being destroyed, before its vCPUs stop and its memory is freed: relinquish what refers to it (Xen's domain_kill). */
  dying: [domain: Domain];
  destroyed: [domid: DomId];
}

/** All domains of the host. Errors are `GuestError`s with Xen's errno so a domctl handler can return them as they are. */
export interface DomainRegistry {
  readonly events: EventEmitter<DomainEvents>;
  /** Creates a domain (`XEN_DOMCTL_createdomain`). */
  create(options?: DomainCreateOptions): Domain;
  /** Destroys a domain: stops its vCPUs, frees every frame, disposes its container, frees its domid. Dom0 cannot be destroyed (EPERM). */
  destroy(domid: number): void;
  /** `domain_pause` (counted). */
  pause(domid: number): void;
  /** `domain_unpause`; EINVAL when not paused. */
  unpause(domid: number): void;
  /** `domain_shutdown`: pauses every vCPU and records the reason; ignored when already shut down. */
  shutdown(domid: number, reason: ShutdownReason): void;
  get(domid: number): Domain | undefined;
  /** Like `get`, but throws `GuestError('ESRCH')`. */
  lookup(domid: number): Domain;
  /** Sets the name the toolstack gave the domain (xl rename); ESRCH for an unknown domid. */
  rename(domid: number, name: string): void;
  list(): Domain[];
  readonly size: number;
  /** One line per domain, as `xl list` would show. */
  dump(): string;
}
export const DomainRegistry = Symbol.for('xenoserver:DomainRegistry') as InjectionToken<DomainRegistry>;

// ---------------------------------------------------------------------------------------------
// Per-domain hypervisor state shared by subsystems (fields of each Domain; also in its container).

/** Where one vCPU's `vcpu_info` lives: a frame's bytes and the offset of the record in them. */
export interface VcpuInfoLocation {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly offset: number;
}

/**
 * A domain's shared-info page: one machine frame in Xen's layout (core/public/shared-info.ts), shared
 * by the hypervisor and the guest. vCPUs below 32 have their vcpu_info in it until they register
 * another place (VCPUOP_register_vcpu_info); others have none until they do.
 */
export interface SharedInfoPage {
  readonly mfn: MachineFrame;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Where vCPU `vcpu`'s vcpu_info is now. */
  vcpuInfo(vcpu: number): VcpuInfoLocation;
  /** VCPUOP_register_vcpu_info: the record moves to `offset` in `bytes` (a frame of the guest's). Its contents are carried over. */
  registerVcpuInfo(vcpu: number, bytes: Uint8Array, offset: number): void;
  /** True once `vcpu` registered its own vcpu_info (Xen allows it once). */
  hasRegisteredVcpuInfo(vcpu: number): boolean;
}
export const SharedInfoPage = Symbol.for('xenoserver:SharedInfoPage') as InjectionToken<SharedInfoPage>;

/** A domain's HVM parameters (HVMOP_get/set_param), 64-bit values by `HVM_PARAM_*` index. */
export interface HvmParams {
  get(index: number): bigint;
  set(index: number, value: bigint): void;
  readonly events: EventEmitter<{ changed: [index: number, value: bigint] }>;
}
export const HvmParams = Symbol.for('xenoserver:HvmParams') as InjectionToken<HvmParams>;

/** What {@link VcpuInstructions.io} returns while a device model has the access: the vCPU yields `{ op: 'io' }`, then reads {@link VcpuInstructions.ioResult}. */
export const IO_PENDING = -1;

/** The privileged instructions a vCPU executes through the platform (set by the host on each vCPU). */
export interface VcpuInstructions {
  cpuid(leaf: number, subleaf: number): CpuidResult;
  rdmsr(msr: number): bigint;
  wrmsr(msr: number, value: bigint): void;
  /**
   * A port-I/O (`space` 'pio') or MMIO access. Returns the value read (writes: 0), or {@link IO_PENDING}
   * when it was forwarded to a device model; the vCPU is woken from its `io` wait once the answer is in.
   */
  io(space: 'pio' | 'mmio', addr: number, size: number, write: boolean, value: number): number;
  /** The value of the last forwarded read, once completed. */
  ioResult(): number;
  /** See {@link VcpuApi.acceptInterrupt}. */
  acceptInterrupt(): number;
  /** See {@link VcpuApi.privileged}. */
  privileged(insn: PrivilegedInstruction, operand: number): number;
  /** The program executes HLT: an HVM vCPU takes (and counts) an exit; absent where HLT is not trapped. */
  hlt?(): void;
}
