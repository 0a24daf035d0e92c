/**
 * The MC146818 RTC and CMOS of an HVM guest (QEMU's hw/rtc/mc146818rtc.c behaviour): index port 0x70
 * (bit 7, the NMI mask, ignored), data port 0x71; the clock runs from the host's wallclock plus virtual
 * time, in BCD or binary and 12 or 24 hours per register B; registers A–D with UIP, SET, the periodic,
 * alarm and update-ended interrupts on ISA IRQ 8.
 */
import type { DeviceModelContext, EmulatedDevice, InterruptLine, IoRegistration } from '../../../core/api/index.js';
import { ioPort } from '../../../core/public/index.js';
import { CMOS, initCmos } from './cmos.js';

export const RTC_REG = { sec: 0, secAlarm: 1, min: 2, minAlarm: 3, hour: 4, hourAlarm: 5, dayOfWeek: 6, dayOfMonth: 7, month: 8, year: 9, a: 0x0a, b: 0x0b, c: 0x0c, d: 0x0d } as const;
export const REG_A = { uip: 0x80, dvMask: 0x70, dvNormal: 0x20, rateMask: 0x0f } as const;
export const REG_B = { set: 0x80, pie: 0x40, aie: 0x20, uie: 0x10, sqwe: 0x08, dm: 0x04, h24: 0x02, dse: 0x01 } as const;
export const REG_C = { irqf: 0x80, pf: 0x40, af: 0x20, uf: 0x10 } as const;
export const REG_D_VRT = 0x80;

const NS = 1_000_000_000;
/** UIP is set for the 244 µs before each update. */
const UIP_NS = 244_000;
const toBcd = (n: number): number => ((Math.floor(n / 10) % 10) << 4) | n % 10;
const fromBcd = (n: number): number => (n >> 4) * 10 + (n & 0x0f);

/** The RTC. `epochNs` is the wallclock at virtual time 0, ns since the Unix epoch. */
export class Rtc146818 implements EmulatedDevice {
  readonly cmos = new Uint8Array(128);
  private index = 0;
  /** Wallclock seconds at `offsetNs + now` = 0, plus the sub-second phase. */
  private baseSec: number;
  private offsetNs: number;
  /** Last virtual time register C was read (lazy PF/UF). */
  private lastC: number;
  private readonly irq: InterruptLine;
  private readonly ports: IoRegistration;
  private cancelPeriodic: (() => void) | undefined;
  private cancelUpdate: (() => void) | undefined;

  constructor(
    private readonly ctx: DeviceModelContext,
    epochNs: bigint,
  ) {
    this.baseSec = Number(epochNs / BigInt(NS));
    this.offsetNs = Number(epochNs % BigInt(NS));
    this.lastC = ctx.now();
    this.cmos[RTC_REG.a] = REG_A.dvNormal | 0x06;
    this.cmos[RTC_REG.b] = REG_B.h24;
    this.cmos[RTC_REG.d] = REG_D_VRT;
    initCmos(this.cmos, ctx.config);
    this.irq = ctx.isaIrq(8);
    this.ports = ctx.io.registerPorts(ioPort(0x70), 2, {
      read: (o) => (o === 0 ? 0xff : this.readData()),
      write: (o, _s, v) => (o === 0 ? void (this.index = v & 0x7f) : this.writeData(v & 0xff)),
    });
    this.cmos[CMOS.century] = this.encode(Math.floor(this.date().getUTCFullYear() / 100));
  }

  /** The guest's clock now, as a UTC date (seconds resolution). */
  date(now = this.ctx.now()): Date {
    return new Date(this.seconds(now) * 1000);
  }

  dump(): string {
    return `${this.date().toISOString()} A=${this.cmos[RTC_REG.a]!.toString(16)} B=${this.cmos[RTC_REG.b]!.toString(16)} C=${this.cmos[RTC_REG.c]!.toString(16)} irq8=${this.irq.asserted ? 1 : 0}`;
  }

  dispose(): void {
    this.cancelPeriodic?.();
    this.cancelUpdate?.();
    if (this.irq.asserted) this.irq.deassert();
    this.ports.dispose();
  }

  private get b(): number {
    return this.cmos[RTC_REG.b]!;
  }

  private seconds(now: number): number {
    return this.baseSec + Math.floor((now + this.offsetNs) / NS);
  }

  private clockRunning(): boolean {
    return (this.cmos[RTC_REG.a]! & REG_A.dvMask) === REG_A.dvNormal && (this.b & REG_B.set) === 0;
  }

  private encode(n: number): number {
    return this.b & REG_B.dm ? n : toBcd(n);
  }

  private decode(n: number): number {
    return this.b & REG_B.dm ? n : fromBcd(n & 0xff);
  }

  private encodeHour(h: number): number {
    if (this.b & REG_B.h24) return this.encode(h);
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.encode(h12) | (h >= 12 ? 0x80 : 0);
  }

  private decodeHour(v: number): number {
    if (this.b & REG_B.h24) return this.decode(v);
    const h = this.decode(v & 0x7f) % 12;
    return v & 0x80 ? h + 12 : h;
  }

  /** Writes the running time into the clock bytes (rtc_update_time's guest view). */
  private latchTime(now: number): void {
    const d = this.date(now);
    const c = this.cmos;
    c[RTC_REG.sec] = this.encode(d.getUTCSeconds());
    c[RTC_REG.min] = this.encode(d.getUTCMinutes());
    c[RTC_REG.hour] = this.encodeHour(d.getUTCHours());
    c[RTC_REG.dayOfWeek] = this.encode(d.getUTCDay() + 1);
    c[RTC_REG.dayOfMonth] = this.encode(d.getUTCDate());
    c[RTC_REG.month] = this.encode(d.getUTCMonth() + 1);
    c[RTC_REG.year] = this.encode(d.getUTCFullYear() % 100);
    c[CMOS.century] = this.encode(Math.floor(d.getUTCFullYear() / 100));
  }

  /** The clock bytes become the time, starting a fresh second now (rtc_set_time). */
  private rebase(now: number): void {
    const c = this.cmos;
    const year = this.decode(c[CMOS.century]!) * 100 + this.decode(c[RTC_REG.year]!);
    const ms = Date.UTC(year, this.decode(c[RTC_REG.month]!) - 1, this.decode(c[RTC_REG.dayOfMonth]!), this.decodeHour(c[RTC_REG.hour]!), this.decode(c[RTC_REG.min]!), this.decode(c[RTC_REG.sec]!));
    if (!Number.isFinite(ms)) {
      this.ctx.warn(`rtc: invalid date written (year ${year}), clock unchanged`);
      return;
    }
    this.baseSec = Math.floor(ms / 1000);
    this.offsetNs = -now;
  }

  private readData(): number {
    const now = this.ctx.now();
    const i = this.index;
    if (i <= RTC_REG.year && i !== RTC_REG.secAlarm && i !== RTC_REG.minAlarm && i !== RTC_REG.hourAlarm) {
      if (this.clockRunning()) this.latchTime(now);
      return this.cmos[i]!;
    }
    if (i === RTC_REG.a) {
      const phase = (((now + this.offsetNs) % NS) + NS) % NS;
      return (this.cmos[i]! & ~REG_A.uip) | (this.clockRunning() && phase >= NS - UIP_NS ? REG_A.uip : 0);
    }
    if (i === RTC_REG.c) return this.readC(now);
    if (i === RTC_REG.d) return REG_D_VRT;
    return this.cmos[i]!;
  }

  private writeData(value: number): void {
    const now = this.ctx.now();
    const i = this.index;
    if (i <= RTC_REG.year && i !== RTC_REG.secAlarm && i !== RTC_REG.minAlarm && i !== RTC_REG.hourAlarm) {
      if (this.clockRunning()) this.latchTime(now);
      this.cmos[i] = value;
      if (this.clockRunning()) this.rebase(now);
      return;
    }
    if (i === RTC_REG.a) {
      this.cmos[i] = value & ~REG_A.uip;
      this.schedule();
      return;
    }
    if (i === RTC_REG.b) {
      const wasSet = (this.b & REG_B.set) !== 0;
      if (!wasSet && value & REG_B.set) this.latchTime(now);
      // Setting SET stops updates, and with them update-ended interrupts (mc146818rtc.c clears UIE).
      this.cmos[i] = value & REG_B.set ? value & ~REG_B.uie : value;
      if (wasSet && !(value & REG_B.set)) this.rebase(now);
      this.schedule();
      this.updateIrq();
      return;
    }
    if (i === RTC_REG.c || i === RTC_REG.d) return; // Read-only.
    if (i === CMOS.century) {
      if (this.clockRunning()) this.latchTime(now);
      this.cmos[i] = value;
      if (this.clockRunning()) this.rebase(now);
      return;
    }
    this.cmos[i] = value;
  }

  /** Register C: the flags since the last read (periodic and update-ended ones caught up lazily); reading clears them and IRQ 8. */
  private readC(now: number): number {
    const rate = this.periodNs();
    if (rate !== undefined && Math.floor(now / rate) > Math.floor(this.lastC / rate)) this.cmos[RTC_REG.c]! |= REG_C.pf;
    if (this.clockRunning() && this.seconds(now) > this.seconds(this.lastC)) this.cmos[RTC_REG.c]! |= REG_C.uf;
    this.lastC = now;
    const c = this.cmos[RTC_REG.c]!;
    this.cmos[RTC_REG.c] = 0;
    if (this.irq.asserted) this.irq.deassert();
    return c & (REG_C.irqf | REG_C.pf | REG_C.af | REG_C.uf);
  }

  /** The periodic interrupt's period (rate select 1 and 2 act as 8 and 9, as on the real part), or undefined when off. */
  periodNs(): number | undefined {
    let rate = this.cmos[RTC_REG.a]! & REG_A.rateMask;
    if (rate === 0 || (this.cmos[RTC_REG.a]! & REG_A.dvMask) !== REG_A.dvNormal) return undefined;
    if (rate <= 2) rate += 7;
    return ((1 << (rate - 1)) * NS) / 32768;
  }

  private raise(flag: number): void {
    this.cmos[RTC_REG.c]! |= flag;
    this.updateIrq();
  }

  private updateIrq(): void {
    const c = this.cmos[RTC_REG.c]!;
    const enabled = (this.b & REG_B.pie && c & REG_C.pf) || (this.b & REG_B.aie && c & REG_C.af) || (this.b & REG_B.uie && c & REG_C.uf);
    if (enabled) {
      this.cmos[RTC_REG.c] = c | REG_C.irqf;
      if (!this.irq.asserted) this.irq.assert();
    }
  }

  /** Timers run only while their interrupt is enabled; flags are caught up lazily otherwise. */
  private schedule(): void {
    this.cancelPeriodic?.();
    this.cancelPeriodic = undefined;
    this.cancelUpdate?.();
    this.cancelUpdate = undefined;
    const period = this.periodNs();
    if (period !== undefined && this.b & REG_B.pie) this.armPeriodic(period);
    if (this.clockRunning() && this.b & (REG_B.uie | REG_B.aie)) this.armUpdate();
  }

  private armPeriodic(period: number): void {
    const now = this.ctx.now();
    const at = (Math.floor(now / period) + 1) * period;
    this.cancelPeriodic = this.ctx.timer(at, () => {
      this.lastC = Math.max(this.lastC, at);
      this.raise(REG_C.pf);
      this.armPeriodic(period);
    });
  }

  private armUpdate(): void {
    const now = this.ctx.now();
    const next = (this.seconds(now) - this.baseSec + 1) * NS - this.offsetNs;
    this.cancelUpdate = this.ctx.timer(next, () => {
      this.latchTime(next);
      let flags = REG_C.uf;
      if (this.alarmMatches()) flags |= REG_C.af;
      this.raise(flags);
      this.armUpdate();
    });
  }

  /** The alarm bytes against the clock; 0xC0–0xFF is "don't care". */
  private alarmMatches(): boolean {
    const c = this.cmos;
    const match = (alarm: number, value: number): boolean => (alarm & 0xc0) === 0xc0 || alarm === value;
    return match(c[RTC_REG.secAlarm]!, c[RTC_REG.sec]!) && match(c[RTC_REG.minAlarm]!, c[RTC_REG.min]!) && match(c[RTC_REG.hourAlarm]!, c[RTC_REG.hour]!);
  }
}
