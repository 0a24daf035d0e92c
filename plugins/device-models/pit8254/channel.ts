/**
 * One 8254 counter as QEMU's i8254_common.c computes it: everything follows from the count, the mode
 * and the virtual time the count was loaded, so reads are exact and deterministic without ticking.
 */

/** The PIT's input clock, Hz. */
export const PIT_FREQ = 1_193_182;
/** `rw_mode` / read and write states (QEMU's RW_STATE_*). */
export const RW = { lsb: 1, msb: 2, word0: 3, word1: 4 } as const;

const NS_PER_S = 1_000_000_000n;
const FREQ = BigInt(PIT_FREQ);

/** Ticks of the PIT clock between `from` and `to` (ns). */
export function ticksBetween(from: number, to: number): number {
  if (to <= from) return 0;
  return Number((BigInt(Math.floor(to - from)) * FREQ) / NS_PER_S);
}

/** The virtual time (ns) at which tick `ticks` after `from` happens. */
export function timeOfTick(from: number, ticks: number): number {
  return from + Number((BigInt(ticks) * NS_PER_S + FREQ - 1n) / FREQ);
}

const toBcd = (n: number): number => Number.parseInt(String(n % 10000), 16);
const fromBcd = (n: number): number => {
  const digits = n.toString(16);
  return /^[0-9]+$/.test(digits) ? Number(digits) : Number.NaN;
};

/** One counter. */
export class PitChannel {
  /** The reload value in ticks (1..65536; 0 written means 65536, or 10000 in BCD). */
  count = 0x10000;
  mode = 0;
  bcd = false;
  rwMode = RW.lsb as number;
  readState = RW.lsb as number;
  writeState = RW.lsb as number;
  writeLatch = 0;
  /** Pending latched count: which bytes are still to be read (0: none). */
  countLatched = 0;
  latchedCount = 0;
  statusLatched = false;
  status = 0;
  gate: boolean;
  /** When the count was loaded (ns); undefined until programmed. */
  loadTime: number | undefined;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  /** Ticks since the count was loaded. */
  elapsed(now: number): number {
    return this.loadTime === undefined ? 0 : ticksBetween(this.loadTime, now);
  }

  /** pit_get_count: the counting element now, as the guest reads it. */
  countAt(now: number): number {
    const d = this.elapsed(now);
    let value: number;
    switch (this.mode) {
      case 0: case 1: case 4: case 5:
        value = (this.count - d) & 0xffff;
        break;
      case 3:
        value = this.count - ((2 * d) % this.count);
        break;
      default:
        value = this.count - (d % this.count);
    }
    return this.bcd ? toBcd(value & 0xffff) : value & 0xffff;
  }

  /** pit_get_out: the OUT pin now. */
  outAt(now: number): boolean {
    if (this.loadTime === undefined) return this.mode !== 0;
    const d = this.elapsed(now);
    switch (this.mode) {
      case 0: return d >= this.count;
      case 1: return d < this.count;
      case 2: return d % this.count === 0 && d !== 0;
      case 3: return d % this.count < ((this.count + 1) >> 1);
      default: return d === this.count;
    }
  }

  /**
   * The tick (since load) of the first rising edge of OUT strictly after tick `d`, or undefined when
   * no more come (one-shot modes past their terminal count).
   */
  nextRisingEdge(d: number): number | undefined {
    switch (this.mode) {
      case 2: case 3:
        return (Math.floor(d / this.count) + 1) * this.count;
      case 0: case 1: case 4: case 5:
        return d < this.count ? this.count : undefined;
      default:
        return undefined;
    }
  }

  /** A control word with access 1..3: mode, BCD and access mode; the channel waits for its count. */
  program(access: number, mode: number, bcd: boolean): void {
    this.rwMode = access;
    this.readState = access;
    this.writeState = access;
    this.mode = mode > 5 ? mode - 4 : mode;
    this.bcd = bcd;
    this.loadTime = undefined;
  }

  /** pit_latch_count (a second latch before the first is read is ignored). */
  latchCount(now: number): void {
    if (this.countLatched !== 0) return;
    this.latchedCount = this.countAt(now);
    this.countLatched = this.rwMode;
  }

  latchStatus(now: number): void {
    if (this.statusLatched) return;
    this.status = ((this.outAt(now) ? 1 : 0) << 7) | ((this.loadTime === undefined ? 1 : 0) << 6) | (this.rwMode << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
    this.statusLatched = true;
  }

  /** A data-port read. */
  read(now: number): number {
    if (this.statusLatched) {
      this.statusLatched = false;
      return this.status;
    }
    if (this.countLatched !== 0) {
      const c = this.latchedCount;
      if (this.countLatched === RW.msb) {
        this.countLatched = 0;
        return (c >> 8) & 0xff;
      }
      this.countLatched = this.countLatched === RW.word0 ? RW.msb : 0;
      return c & 0xff;
    }
    const count = this.countAt(now);
    switch (this.readState) {
      case RW.msb: return (count >> 8) & 0xff;
      case RW.word0:
        this.readState = RW.word1;
        return count & 0xff;
      case RW.word1:
        this.readState = RW.word0;
        return (count >> 8) & 0xff;
      default: return count & 0xff;
    }
  }

  /** A data-port write; returns true when it completed a count (the channel starts counting). */
  write(now: number, value: number): boolean {
    switch (this.writeState) {
      case RW.msb: return this.load(now, value << 8);
      case RW.word0:
        this.writeLatch = value;
        this.writeState = RW.word1;
        return false;
      case RW.word1:
        this.writeState = RW.word0;
        return this.load(now, this.writeLatch | (value << 8));
      default: return this.load(now, value);
    }
  }

  /** The gate input: a rising edge restarts modes 1, 2, 3 and 5 (pit_set_gate). */
  setGate(now: number, gate: boolean): boolean {
    const rising = gate && !this.gate;
    this.gate = gate;
    if (rising && this.loadTime !== undefined && this.mode !== 0 && this.mode !== 4) {
      this.loadTime = now;
      return true;
    }
    return false;
  }

  /** pit_load_count. */
  private load(now: number, raw: number): boolean {
    let value = raw;
    if (this.bcd) {
      value = fromBcd(raw);
      if (Number.isNaN(value)) value = raw;
      if (value === 0) value = 10000;
    } else if (value === 0) value = 0x10000;
    this.count = value;
    this.loadTime = now;
    return true;
  }
}
