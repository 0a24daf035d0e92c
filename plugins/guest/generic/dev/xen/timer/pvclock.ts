/**
 * The Xen PV clock (FreeBSD's x86/x86/pvclock.c): system time from a vcpu_time_info record plus the
 * TSC ticks since Xen sampled it, scaled by the record's mul/shift. The record is read under its
 * version seqlock (odd = Xen is writing it).
 */
import type { VcpuApi } from '../../../../../../core/api/index.js';
import { VcpuTimeInfo } from '../../../../../../core/public/index.js';

/** IA32_TSC: the CPU's time-stamp counter (RDTSC's value). */
export const MSR_IA32_TSC = 0x10;

/** `pvclock_scale_delta`: (delta << shift) × mul / 2^32. */
export function scaleDelta(delta: bigint, mul: number, shift: number): bigint {
  const shifted = shift >= 0 ? delta << BigInt(shift) : delta >> BigInt(-shift);
  return (shifted * BigInt(mul)) >> 32n;
}

/** vCPUs whose platform does not emulate IA32_TSC (rdmsr raised #GP once). */
const noTscMsr = new WeakSet<VcpuApi>();

/**
 * System time (ns) from the vcpu_time_info at guest address `at`. Where the TSC cannot be read (the
 * VcpuApi has no RDTSC and the platform may not emulate IA32_TSC) the vCPU's own clock stands in for
 * the interpolation: it is what the TSC would have measured.
 */
export function pvclockRead(v: VcpuApi, at: number): number {
  if (noTscMsr.has(v)) return v.now;
  const m = v.memory;
  for (let tries = 0; tries < 16; tries++) {
    const version = m.readU32(at + VcpuTimeInfo.version);
    if ((version & 1) !== 0) continue;
    const tscTs = m.readU64Big(at + VcpuTimeInfo.tscTimestamp);
    const system = m.readU64Big(at + VcpuTimeInfo.systemTime);
    const mul = m.readU32(at + VcpuTimeInfo.tscToSystemMul);
    const shift = (m.readU8(at + VcpuTimeInfo.tscShift) << 24) >> 24;
    let tsc: bigint;
    try {
      tsc = v.rdmsr(MSR_IA32_TSC);
    } catch {
      noTscMsr.add(v);
      return v.now;
    }
    if (m.readU32(at + VcpuTimeInfo.version) !== version) continue;
    const delta = tsc > tscTs ? tsc - tscTs : 0n;
    return Number(system + scaleDelta(delta, mul, shift));
  }
  throw new Error(`pvclock: vcpu_time_info at 0x${at.toString(16)} stays mid-update`);
}
