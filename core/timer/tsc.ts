/** The time-stamp counter: per-CPU 64-bit counters derived exactly from virtual time (tsc = offset + ns × kHz / 10⁶). */
import { HardwareError } from '../api/errors.js';
import type { Engine } from '../engine/engine.js';
import type { PcpuId } from '../public/types.js';

const NS_PER_MS = 1_000_000n;

/** What a consumer of one CPU's TSC needs (the local APIC's TSC-deadline timer, RDTSC emulation). */
export interface TscView {
  /** Counter frequency in kHz. */
  readonly khz: number;
  /** The counter now (or at virtual time `atNs`), modulo 2⁶⁴. */
  read(atNs?: number): bigint;
  /** The earliest virtual time (whole ns, never before now) at which the counter reaches `value`. */
  nsWhen(value: bigint): number;
}

export interface TscOptions {
  /** Counter frequency in kHz; defaults to the cost model's `cpuMhz` × 1000 (an invariant TSC at core clock). */
  khz?: number;
}

/**
 * The TSCs of all CPUs. All count at one frequency from virtual time zero; each CPU has a signed
 * offset (IA32_TSC_ADJUST / the VMCS TSC offset), zero until written. Arithmetic is in bigint, so
 * values stay exact at any virtual time; fractions of a nanosecond are dropped.
 */
export class Tsc {
  readonly khz: number;
  private readonly khzBig: bigint;
  private readonly offsets = new Map<number, bigint>();
  /** One view per pCPU, made on first use and shared by whoever asks (every HVM domain asks for CPU 0's). */
  private readonly views: TscView[] = [];

  constructor(
    private readonly engine: Engine,
    options: TscOptions = {},
  ) {
    const khz = options.khz ?? Math.round(engine.cost.cpuMhz * 1000);
    if (!Number.isSafeInteger(khz) || khz <= 0) throw new HardwareError('tsc-frequency', `tsc: frequency must be a positive whole number of kHz, got ${khz}`);
    this.khz = khz;
    this.khzBig = BigInt(khz);
  }

  /** Counts since virtual time zero at `atNs`, before any offset. */
  ticksAt(atNs: number): bigint {
    const fast = this.ticksAtNumber(atNs);
    return fast !== undefined ? BigInt(fast) : (BigInt(Math.floor(atNs)) * this.khzBig) / NS_PER_MS;
  }

  /**
   * {@link ticksAt} in a double when it is exact — floor(ns × kHz / 10⁶) as whole milliseconds × kHz
   * plus the rest, every term below 2^53 — else undefined (beyond ~35 days at 3 GHz).
   */
  ticksAtNumber(atNs: number): number | undefined {
    const ns = Math.floor(atNs);
    const ms = Math.floor(ns / 1e6);
    const ticks = ms * this.khz + Math.floor(((ns - ms * 1e6) * this.khz) / 1e6);
    return ns >= 0 && ticks < Number.MAX_SAFE_INTEGER ? ticks : undefined;
  }

  /** {@link read} as a double when the counter is exact in one (no offset, below 2^53), else undefined. */
  readNumber(cpu: PcpuId, atNs: number = this.engine.now): number | undefined {
    if (this.offsets.size > 0 && (this.offsets.get(cpu) ?? 0n) !== 0n) return undefined;
    return this.ticksAtNumber(atNs);
  }

  /** RDTSC on `cpu`: its counter now (or at `atNs`), modulo 2⁶⁴. */
  read(cpu: PcpuId, atNs: number = this.engine.now): bigint {
    return BigInt.asUintN(64, this.offsetOf(cpu) + this.ticksAt(atNs));
  }

  /** The signed offset added to `cpu`'s counter. */
  offsetOf(cpu: PcpuId): bigint {
    return this.offsets.get(cpu) ?? 0n;
  }

  setOffset(cpu: PcpuId, offset: bigint): void {
    this.offsets.set(cpu, offset);
  }

  /** WRMSR IA32_TIME_STAMP_COUNTER: makes `cpu`'s counter read `value` now. */
  write(cpu: PcpuId, value: bigint): void {
    this.offsets.set(cpu, BigInt.asUintN(64, value) - this.ticksAt(this.engine.now));
  }

  /** The earliest virtual time, not before now, at which `cpu`'s counter (without wrapping) reaches `value`. */
  nsWhen(cpu: PcpuId, value: bigint): number {
    const ticks = value - this.offsetOf(cpu);
    if (ticks <= 0n) return this.engine.now;
    const ns = Number((ticks * NS_PER_MS + this.khzBig - 1n) / this.khzBig);
    return Math.max(ns, this.engine.now);
  }

  /** The narrow per-CPU view. */
  forCpu(cpu: PcpuId): TscView {
    let view = this.views[cpu];
    if (view === undefined) {
      view = this.views[cpu] = {
        khz: this.khz,
        read: (atNs?: number) => this.read(cpu, atNs),
        nsWhen: (value: bigint) => this.nsWhen(cpu, value),
      };
    }
    return view;
  }
}
