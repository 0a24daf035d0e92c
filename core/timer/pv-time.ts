/** PV time: Xen's TSC→ns scale (set_time_scale), the vcpu_time_info seqlock record, the guest's pvclock read, and the shared_info wallclock. */
import { SharedInfo, VcpuTimeInfo } from '../public/shared-info.js';

/** A TSC→ns conversion: ns = ((ticks shifted by `shift`) × `mulFrac`) >> 32. */
export interface TimeScale {
  /** u32: ns per (shifted) tick × 2^32. */
  readonly mulFrac: number;
  /** −31..31: left shift when positive, right shift when negative. */
  readonly shift: number;
}

const NS_PER_S = 1_000_000_000n;
const U32_MAX = 0xffff_ffffn;
/** A reader gives up on a record that stays mid-update (nothing updates it concurrently in the simulation). */
const MAX_SEQLOCK_TRIES = 16;

/**
 * Xen's `set_time_scale(ts, ticks_per_sec)`: bring the rate into (10⁹, 2·10⁹] ticks per second by
 * halving or doubling, counting the shift, then mul_frac = floor(10⁹ × 2^32 / rate).
 */
export function setTimeScale(ticksPerSec: number | bigint): TimeScale {
  let tps64 = BigInt(ticksPerSec);
  if (tps64 <= 0n) throw new RangeError(`pv-time: ticks per second must be positive, got ${tps64}`);
  let shift = 0;
  while (tps64 > NS_PER_S * 2n) {
    tps64 >>= 1n;
    shift--;
  }
  let tps32 = tps64 & U32_MAX;
  while (tps32 <= NS_PER_S) {
    tps32 = (tps32 << 1n) & U32_MAX;
    shift++;
  }
  return { mulFrac: Number((NS_PER_S << 32n) / tps32), shift };
}

/** `scale_delta`: ticks → ns with a time scale (the guest's pvclock arithmetic, 64×32-bit product >> 32). */
export function scaleDelta(delta: bigint, scale: TimeScale): bigint {
  const shifted = scale.shift < 0 ? delta >> BigInt(-scale.shift) : BigInt.asUintN(64, delta << BigInt(scale.shift));
  return (shifted * BigInt(scale.mulFrac)) >> 32n;
}

/** The contents of a vcpu_time_info record. */
export interface VcpuTimeSample {
  readonly tscTimestamp: bigint;
  /** ns since host boot at `tscTimestamp`. */
  readonly systemTime: bigint;
  readonly scale: TimeScale;
  /** XEN_PVCLOCK_* bits. */
  readonly flags: number;
}

/** Writes a vcpu_time_info at `offset` of `view` as Xen does: version odd, the fields, version even again. */
export function writeVcpuTimeInfo(view: DataView, offset: number, sample: VcpuTimeSample): void {
  const version = view.getUint32(offset + VcpuTimeInfo.version, true);
  view.setUint32(offset + VcpuTimeInfo.version, (version | 1) >>> 0, true);
  view.setBigUint64(offset + VcpuTimeInfo.tscTimestamp, BigInt.asUintN(64, sample.tscTimestamp), true);
  view.setBigUint64(offset + VcpuTimeInfo.systemTime, BigInt.asUintN(64, sample.systemTime), true);
  view.setUint32(offset + VcpuTimeInfo.tscToSystemMul, sample.scale.mulFrac >>> 0, true);
  view.setInt8(offset + VcpuTimeInfo.tscShift, sample.scale.shift);
  view.setUint8(offset + VcpuTimeInfo.flags, sample.flags);
  view.setUint32(offset + VcpuTimeInfo.version, ((version | 1) + 1) >>> 0, true);
}

/**
 * {@link writeVcpuTimeInfo} from doubles (the switch-in path, without BigInt): `tscTimestamp` and
 * `systemTime` must be whole and below 2^53.
 */
export function writeVcpuTimeInfoNumbers(view: DataView, offset: number, tscTimestamp: number, systemTime: number, scale: TimeScale, flags: number): void {
  const version = view.getUint32(offset + VcpuTimeInfo.version, true);
  view.setUint32(offset + VcpuTimeInfo.version, (version | 1) >>> 0, true);
  setU64(view, offset + VcpuTimeInfo.tscTimestamp, tscTimestamp);
  setU64(view, offset + VcpuTimeInfo.systemTime, systemTime);
  view.setUint32(offset + VcpuTimeInfo.tscToSystemMul, scale.mulFrac >>> 0, true);
  view.setInt8(offset + VcpuTimeInfo.tscShift, scale.shift);
  view.setUint8(offset + VcpuTimeInfo.flags, flags);
  view.setUint32(offset + VcpuTimeInfo.version, ((version | 1) + 1) >>> 0, true);
}

/** True when the record at `offset` holds exactly these fields, its version aside (Xen's memcmp before a rewrite). */
export function vcpuTimeInfoHolds(view: DataView, offset: number, tscTimestamp: number, systemTime: number, scale: TimeScale, flags: number): boolean {
  return (
    getU64(view, offset + VcpuTimeInfo.tscTimestamp) === tscTimestamp &&
    getU64(view, offset + VcpuTimeInfo.systemTime) === systemTime &&
    view.getUint32(offset + VcpuTimeInfo.tscToSystemMul, true) === scale.mulFrac >>> 0 &&
    view.getInt8(offset + VcpuTimeInfo.tscShift) === scale.shift &&
    view.getUint8(offset + VcpuTimeInfo.flags) === flags
  );
}

/** A u64 field as a number (exact below 2^53). */
function getU64(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * 2 ** 32 + view.getUint32(offset, true);
}

/** A u64 field from a whole or fractional count (floored), without BigInt: these records are written on every switch. */
export function setU64(view: DataView, offset: number, ns: number): void {
  const n = Math.floor(ns);
  if (!(n >= 0 && n < 2 ** 64)) throw new RangeError(`u64 field: ${ns} is out of range`);
  // Split by division, not `%`: V8 compiles a floating-point modulo to a call to fmod.
  const hi = Math.floor(n / 2 ** 32);
  view.setUint32(offset, n - hi * 2 ** 32, true);
  view.setUint32(offset + 4, hi, true);
}

/** What a guest reads from a vcpu_time_info (with its version). */
export function readVcpuTimeInfo(view: DataView, offset: number): VcpuTimeSample & { version: number } {
  return {
    version: view.getUint32(offset + VcpuTimeInfo.version, true),
    tscTimestamp: view.getBigUint64(offset + VcpuTimeInfo.tscTimestamp, true),
    systemTime: view.getBigUint64(offset + VcpuTimeInfo.systemTime, true),
    scale: { mulFrac: view.getUint32(offset + VcpuTimeInfo.tscToSystemMul, true), shift: view.getInt8(offset + VcpuTimeInfo.tscShift) },
    flags: view.getUint8(offset + VcpuTimeInfo.flags),
  };
}

/**
 * The documented guest algorithm (Linux `pvclock_clocksource_read`): retry while the version is odd or
 * changes, then now = system_time + scale(tsc − tsc_timestamp). `rdtsc` is called inside the loop.
 */
export function pvclockRead(view: DataView, offset: number, rdtsc: () => bigint): bigint {
  for (let tries = 0; tries < MAX_SEQLOCK_TRIES; tries++) {
    const before = view.getUint32(offset + VcpuTimeInfo.version, true);
    if ((before & 1) !== 0) continue;
    const info = readVcpuTimeInfo(view, offset);
    const now = info.systemTime + scaleDelta(BigInt.asUintN(64, rdtsc() - info.tscTimestamp), info.scale);
    if (view.getUint32(offset + VcpuTimeInfo.version, true) === before) return now;
  }
  throw new Error('pvclock: vcpu_time_info stays mid-update (odd version)');
}

/** The wallclock at system time 0 in shared_info: seconds and ns since the Unix epoch. */
export interface Wallclock {
  readonly sec: bigint;
  readonly nsec: number;
}

/** Splits ns since the Unix epoch into seconds and ns (Xen's do_settime arithmetic). */
export function wallclockOf(epochNs: bigint): Wallclock {
  const sec = epochNs / NS_PER_S;
  return { sec, nsec: Number(epochNs - sec * NS_PER_S) };
}

/** Xen's `update_domain_wallclock_time`: wc_version odd, wc_sec / wc_nsec / wc_sec_hi, wc_version even. */
export function writeWallclock(view: DataView, wc: Wallclock): void {
  const version = view.getUint32(SharedInfo.wcVersion, true);
  view.setUint32(SharedInfo.wcVersion, (version | 1) >>> 0, true);
  view.setUint32(SharedInfo.wcSec, Number(BigInt.asUintN(32, wc.sec)), true);
  view.setUint32(SharedInfo.wcNsec, wc.nsec, true);
  view.setUint32(SharedInfo.wcSecHi, Number(BigInt.asUintN(32, wc.sec >> 32n)), true);
  view.setUint32(SharedInfo.wcVersion, ((version | 1) + 1) >>> 0, true);
}

/** The guest's read of the wallclock at system time 0, as ns since the Unix epoch. */
export function readWallclock(view: DataView): bigint {
  for (let tries = 0; tries < MAX_SEQLOCK_TRIES; tries++) {
    const before = view.getUint32(SharedInfo.wcVersion, true);
    if ((before & 1) !== 0) continue;
    const sec = (BigInt(view.getUint32(SharedInfo.wcSecHi, true)) << 32n) | BigInt(view.getUint32(SharedInfo.wcSec, true));
    const nsec = BigInt(view.getUint32(SharedInfo.wcNsec, true));
    if (view.getUint32(SharedInfo.wcVersion, true) === before) return sec * NS_PER_S + nsec;
  }
  throw new Error('pvclock: the wallclock stays mid-update (odd wc_version)');
}

/** The default boot epoch: 2026-01-01T00:00:00Z, as ns since the Unix epoch. */
export const DEFAULT_BOOT_EPOCH_NS = 1_767_225_600n * NS_PER_S;
