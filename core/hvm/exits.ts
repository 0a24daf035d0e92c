/** VM-exit accounting of one HVM/PVH domain: counters by reason, and the `TraceKind.VmExit` record of each exit. */
import type { HvmExitStats, VmExitReason } from '../api/hvm-platform.js';
import { VM_EXIT_REASONS } from '../api/hvm-platform.js';
import type { Engine } from '../engine/engine.js';
import { TraceKind } from '../engine/trace.js';
import { VMX_EXIT_REASON } from '../public/platform.js';

/**
 * VMX basic exit reasons (Intel SDM vol. 3 app. C) recorded in field `a` of a VmExit trace record.
 * MMIO is an EPT violation under HAP and a #PF exit (reason 0) under shadow paging.
 */
export const VMX_EXIT = {
  EXCEPTION_NMI: 0,
  CPUID: VMX_EXIT_REASON.CPUID,
  HLT: 12,
  INVLPG: 14,
  CR_ACCESS: 28,
  IO_INSTRUCTION: 30,
  MSR_READ: VMX_EXIT_REASON.MSR_READ,
  MSR_WRITE: VMX_EXIT_REASON.MSR_WRITE,
  APIC_ACCESS: 44,
  EPT_VIOLATION: 48,
  WBINVD: 54,
} as const;

/** Bits of field `c` of an I/O or MMIO exit record: the access size is in bits 4..7. */
export const EXIT_IO_WRITE = 1;
export const EXIT_IO_FORWARDED = 2;
export const EXIT_IO_WILD = 4;

/** One domain's counters. */
export class ExitCounters {
  total = 0;
  forwarded = 0;
  wild = 0;
  interrupts = 0;
  readonly byReason: Record<VmExitReason, number> = Object.fromEntries(VM_EXIT_REASONS.map((r) => [r, 0])) as Record<VmExitReason, number>;

  constructor(
    private readonly engine: Engine,
    readonly domid: number,
  ) {}

  /**
   * Counts an exit of `vcpu` at `time` and records it on the trace (`a` = VMX reason, `b`/`c` =
   * qualification). CPUID exits are already traced by the platform: pass `traced`.
   */
  exit(reason: VmExitReason, vcpu: number, time: number, vmx: number, b = 0, c = 0, traced = false): void {
    this.total++;
    this.byReason[reason]++;
    if (!traced) this.engine.trace.record(time, TraceKind.VmExit, this.domid, vcpu, vmx, b, c);
  }

  snapshot(): HvmExitStats {
    return { total: this.total, byReason: { ...this.byReason }, forwarded: this.forwarded, wild: this.wild, interrupts: this.interrupts };
  }

  /** One line: `exits 12 (io 4, apic 6, hlt 2) forwarded 4 wild 0 interrupts 3`. */
  describe(): string {
    const parts = VM_EXIT_REASONS.filter((r) => this.byReason[r] > 0).map((r) => `${r} ${this.byReason[r]}`);
    return `exits ${this.total}${parts.length ? ` (${parts.join(', ')})` : ''} forwarded ${this.forwarded} wild ${this.wild} interrupts ${this.interrupts}`;
  }
}
