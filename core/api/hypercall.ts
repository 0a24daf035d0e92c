/** The hypercall contract: one table of every hypercall × guest mode (data), handlers per hypercall, and the dispatcher. */
import type { InjectionToken } from 'tsyringe';
import type { DomId, VcpuId } from '../public/types.js';
import type { HypercallName } from '../public/xen.js';
import type { GuestMode, VcpuRequest } from './domain.js';
import type { GuestAccess } from './memory.js';

/**
 * What a guest mode does with a hypercall: `handled` goes to the registered handler (ENOSYS while none
 * is), `unavailable` returns −ENOSYS, `privileged` is handled for privileged domains and −EPERM for others.
 */
export type HypercallDecision = 'handled' | 'unavailable' | 'privileged';
export const HYPERCALL_DECISIONS: readonly HypercallDecision[] = ['handled', 'unavailable', 'privileged'];

/** A mode's column: a decision per hypercall name. */
export type HypercallColumn = Readonly<Partial<Record<HypercallName, HypercallDecision>>>;

/** The calling vCPU as a handler sees it. Valid only during the call. */
export interface HypercallContext {
  readonly domid: DomId;
  readonly vcpuId: VcpuId;
  readonly privileged: boolean;
  readonly mode: GuestMode;
  /** The caller's local clock, ns. */
  readonly now: number;
  /** Charges `cycles` of work to the caller. */
  charge(cycles: number): void;
  /** The caller's memory at its own addresses (copy_from_guest / copy_to_guest); failures are EFAULT. */
  readonly guest: GuestAccess;
  /**
   * Asks that the caller block once the hypercall returns (SCHEDOP_block, poll, yield): handlers are
   * synchronous, so the request is handed to the program (`VcpuApi.hypercallBlocking` yields it).
   * Call it last, on success only; the last call wins, and a failing hypercall drops it. Absent on
   * contexts that cannot block (a test's fake): the hypercall then returns as if woken at once.
   */
  deferRequest?(request: VcpuRequest): void;
}

/**
 * Hypercall arguments in register order (x86-64: RDI, RSI, RDX, R10, R8). The array may be reused
 * after the call: a handler must not keep it.
 */
export type HypercallArgs = readonly number[];

/**
 * A hypercall's handler: decodes its sub-op itself. Returns a result ≥ 0; fails by throwing
 * `GuestError` (the guest sees −errno). Any other exception is a bug: the guest sees −EFAULT.
 */
export type HypercallHandler = (ctx: HypercallContext, args: HypercallArgs) => number;

/** The hypercall × mode table and the handlers. Guest-mode plugins own their column; subsystems register handlers. */
export interface HypercallTable {
  /** The decision for hypercall `nr` in `mode`; `unavailable` for an unassigned number. */
  decision(mode: GuestMode, nr: number): HypercallDecision;
  /** Sets one cell. Throws for an unknown hypercall name or number. */
  setDecision(mode: GuestMode, hypercall: HypercallName | number, decision: HypercallDecision): void;
  /** Contributes or overrides part of a mode's column. Returns a function restoring the previous cells. */
  setColumn(mode: GuestMode, column: HypercallColumn): () => void;
  /** Registers the handler of a hypercall. Throws if one is registered. Returns a function removing it. */
  register(hypercall: HypercallName | number, handler: HypercallHandler): () => void;
  /** The registered handler, if any. */
  handler(nr: number): HypercallHandler | undefined;
  /** The whole matrix, for docs and `xeno hypercalls`: one row per hypercall. */
  matrix(): { nr: number; name: HypercallName; decisions: Readonly<Record<GuestMode, HypercallDecision>>; handled: boolean }[];
}
export const HypercallTable = Symbol.for('xenoserver:HypercallTable') as InjectionToken<HypercallTable>;

/** Routes a hypercall through the table to its handler. Never throws. */
export interface HypercallDispatcher {
  /**
   * Runs hypercall `nr` for `ctx`: charges the `hypercall` cost, checks the caller's mode and privilege,
   * calls the handler, records `TraceKind.Hypercall`. Returns ≥ 0 or −errno.
   */
  dispatch(ctx: HypercallContext, nr: number, args: HypercallArgs): number;
}
export const HypercallDispatcher = Symbol.for('xenoserver:HypercallDispatcher') as InjectionToken<HypercallDispatcher>;
