/**
 * The in-core view of the HVM platform (core/hvm): how often each domain's vCPUs left guest mode, and
 * why — the measurement behind the seed article's table (a PVH guest takes no device-model exits; an
 * HVM guest's timer programming costs several VM exits where PVHVM makes one hypercall).
 */
import { token } from './tokens.js';

/** Why a vCPU exited (Xen's VMX exit reasons, grouped as `xentrace` reports them). */
export const VM_EXIT_REASONS = ['cpuid', 'io', 'mmio', 'apic', 'msr', 'cr', 'invlpg', 'wbinvd', 'hlt'] as const;
export type VmExitReason = (typeof VM_EXIT_REASONS)[number];

/** One domain's exit counters since it was created. */
export interface HvmExitStats {
  /** Every VM exit, all reasons. */
  readonly total: number;
  readonly byReason: Readonly<Record<VmExitReason, number>>;
  /** Port-I/O and MMIO accesses forwarded to an ioreq server (a device model in Dom0). */
  readonly forwarded: number;
  /** Accesses nobody claimed (Xen's null handler: reads all ones, writes dropped). */
  readonly wild: number;
  /** Interrupts the vCPUs took from their local APICs (`acceptInterrupt`). */
  readonly interrupts: number;
}

/** The HVM platforms of the host's HVM, PVHVM and PVH domains (PV domains have none). */
export interface HvmPlatforms {
  /** True when `domid` has an emulated platform (it is an HVM, PVHVM or PVH domain that exists). */
  has(domid: number): boolean;
  /** The domain's counters; `GuestError('ESRCH')` for an unknown domain, `EINVAL` for a PV one. */
  exits(domid: number): HvmExitStats;
  /** Keyhandler-style state of every platform: vLAPICs, IO-APIC pins, ioreq servers, counters. */
  dump(): string;
}
export const HvmPlatforms = token<HvmPlatforms>('HvmPlatforms');
