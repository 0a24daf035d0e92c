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

/** One record copied out of guest memory per read (the seqlock is checked on the copy). */
const record = new Uint8Array(VcpuTimeInfo.size);
const view = new DataView(record.buffer);
const TWO32 = 2 ** 32;

/**
 * `pvclock_scale_delta` in doubles: exact while the shifted delta and the result stay below 2^53
 * (deltas of days at GHz rates); undefined beyond, for the BigInt path.
 */
export function scaleDeltaNumber(delta: number, mul: number, shift: number): number | undefined {
  const d = shift >= 0 ? delta * 2 ** shift : Math.floor(delta / 2 ** -shift);
  if (d >= Number.MAX_SAFE_INTEGER) return undefined;
  // (d × mul) >> 32 with d = dh·2^32 + dl and mul = mh·2^16 + ml, every partial product below 2^53.
  const dh = Math.floor(d / TWO32);
  const dl = d - dh * TWO32;
  const x = dl * (mul >>> 16);
  const xq = Math.floor(x / 65536);
  return dh * mul + xq + Math.floor(((x - xq * 65536) * 65536 + dl * (mul & 0xffff)) / TWO32);
}

/**
 * System time (ns) from the vcpu_time_info at guest address `at`. Where the TSC cannot be read (the
 * VcpuApi has no RDTSC and the platform may not emulate IA32_TSC) the vCPU's own clock stands in for
 * the interpolation: it is what the TSC would have measured.
 */
export function pvclockRead(v: VcpuApi, at: number): number {
  if (noTscMsr.has(v)) return v.now;
  const m = v.memory;
  for (let tries = 0; tries < 16; tries++) {
    m.readInto(at, record);
    const version = view.getUint32(VcpuTimeInfo.version, true);
    if ((version & 1) !== 0) continue;
    let tsc: bigint;
    try {
      tsc = v.rdmsr(MSR_IA32_TSC);
    } catch {
      noTscMsr.add(v);
      return v.now;
    }
    if (m.readU32(at + VcpuTimeInfo.version) !== version) continue;
    const tscTs = view.getBigUint64(VcpuTimeInfo.tscTimestamp, true);
    const system = view.getBigUint64(VcpuTimeInfo.systemTime, true);
    const mul = view.getUint32(VcpuTimeInfo.tscToSystemMul, true);
    const shift = view.getInt8(VcpuTimeInfo.tscShift);
    const delta = tsc > tscTs ? tsc - tscTs : 0n;
    const scaled = delta < 2n ** 53n ? scaleDeltaNumber(Number(delta), mul, shift) : undefined;
    if (scaled !== undefined && system < 2n ** 53n) return Number(system) + scaled;
    return Number(system + scaleDelta(delta, mul, shift));
  }
  throw new Error(`pvclock: vcpu_time_info at 0x${at.toString(16)} stays mid-update`);
}
