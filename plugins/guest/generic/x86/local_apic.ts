/**
 * The local APIC driver (FreeBSD's x86/x86/local_apic.c), xAPIC mode: every register access is an
 * uncached MMIO access to the APIC page, which on HVM is a VM exit the hypervisor emulates. It enables
 * the APIC, runs its timer in one-shot mode, sends EOIs and IPIs, and starts APs with INIT-SIPI-SIPI.
 */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';
import {
  APIC_DELMODE_FIXED, APIC_DELMODE_INIT, APIC_DELMODE_STARTUP, APIC_DELSTAT_PEND, APIC_DEST_ALLESELF, APIC_ID_SHIFT,
  APIC_LEVEL_ASSERT, APIC_LEVEL_DEASSERT, APIC_LVTT_TM_ONE_SHOT, APIC_LVT_M, APIC_SVR_SWEN, APIC_TDCR_2, APIC_TRIGMOD_LEVEL,
  DEFAULT_APIC_BASE, LAPIC,
} from './apicreg.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** A busy wait of `us` microseconds (FreeBSD's DELAY). */
export type Delay = (us: number) => Gen;

/** Vectors the kernel gives the APIC's own sources (FreeBSD: APIC_TIMER_INT, APIC_ERROR_INT, APIC_SPURIOUS_INT). */
export const APIC_TIMER_INT = 0xef;
export const APIC_ERROR_INT = 0xfe;
export const APIC_SPURIOUS_INT = 0xff;

/** Spins on the ICR's delivery status at most this many reads before giving up (lapic_ipi_wait). */
const IPI_WAIT_READS = 1000;

export class LocalApicDriver {
  /** The timer's input frequency after the divider, Hz; 0 until {@link calibrate} ran. */
  timerHz = 0;

  constructor(
    private readonly v: VcpuApi,
    readonly base = DEFAULT_APIC_BASE,
  ) {}

  *read(reg: number): Gen<number> {
    return yield* this.v.mmioRead(this.base + reg, 4);
  }

  *write(reg: number, value: number): Gen {
    yield* this.v.mmioWrite(this.base + reg, 4, value >>> 0);
  }

  /** The APIC ID (bits 31:24 of the ID register in xAPIC mode). */
  *id(): Gen<number> {
    return (yield* this.read(LAPIC.ID)) >>> APIC_ID_SHIFT;
  }

  /** lapic_setup: software-enable with the spurious vector, accept every priority, mask LINT0/1, timer masked one-shot at /2. */
  *setup(): Gen {
    yield* this.write(LAPIC.SVR, APIC_SVR_SWEN | APIC_SPURIOUS_INT);
    yield* this.write(LAPIC.TPR, 0);
    yield* this.write(LAPIC.LVT_LINT0, APIC_LVT_M);
    yield* this.write(LAPIC.LVT_LINT1, APIC_LVT_M);
    yield* this.write(LAPIC.LVT_ERROR, APIC_ERROR_INT);
    yield* this.write(LAPIC.DCR_TIMER, APIC_TDCR_2);
    yield* this.write(LAPIC.LVT_TIMER, APIC_LVT_M | APIC_LVTT_TM_ONE_SHOT | APIC_TIMER_INT);
  }

  /**
   * lapic_calibrate_initcount: counts down from the maximum while `delay` waits `us` µs (the i8254
   * measures it), then derives the timer frequency.
   */
  *calibrate(delay: Delay, us: number): Gen<number> {
    yield* this.write(LAPIC.ICR_TIMER, 0xffff_ffff);
    yield* delay(us);
    const left = yield* this.read(LAPIC.CCR_TIMER);
    yield* this.write(LAPIC.ICR_TIMER, 0);
    const ticks = 0xffff_ffff - left;
    if (ticks <= 0) throw new Error('lapic: timer did not count during calibration');
    this.timerHz = Math.round((ticks * 1e6) / us);
    return this.timerHz;
  }

  /** lapic_timer_oneshot: the timer fires APIC_TIMER_INT once after `ns`. Two register writes, two exits on HVM. */
  *timerOneShot(ns: number): Gen {
    if (this.timerHz === 0) throw new Error('lapic: timer used before calibration');
    const count = Math.min(0xffff_ffff, Math.max(1, Math.ceil((ns * this.timerHz) / 1e9)));
    yield* this.write(LAPIC.LVT_TIMER, APIC_LVTT_TM_ONE_SHOT | APIC_TIMER_INT);
    yield* this.write(LAPIC.ICR_TIMER, count);
  }

  /** lapic_timer_stop: a zero initial count stops the timer. */
  *timerStop(): Gen {
    yield* this.write(LAPIC.ICR_TIMER, 0);
  }

  /** lapic_eoi. */
  *eoi(): Gen {
    yield* this.write(LAPIC.EOI, 0);
  }

  /** lapic_ipi_wait: true once the previous IPI left the ICR. */
  *ipiWait(): Gen<boolean> {
    for (let i = 0; i < IPI_WAIT_READS; i++) if (((yield* this.read(LAPIC.ICR_LO)) & APIC_DELSTAT_PEND) === 0) return true;
    return false;
  }

  /** lapic_ipi_raw: destination first (ICR_HI), the low word's write sends it. */
  *ipiRaw(low: number, apicId: number): Gen {
    if (!(yield* this.ipiWait())) throw new Error(`lapic: IPI to APIC ${apicId} still pending`);
    if ((low & APIC_DEST_ALLESELF) === 0) yield* this.write(LAPIC.ICR_HI, apicId << APIC_ID_SHIFT);
    yield* this.write(LAPIC.ICR_LO, low);
  }

  /** lapic_ipi_vectored: a fixed IPI to one APIC. */
  *ipi(apicId: number, vector: number): Gen {
    yield* this.ipiRaw(APIC_DELMODE_FIXED | APIC_LEVEL_ASSERT | vector, apicId);
  }

  /**
   * native_start_all_aps' per-AP sequence (Intel MP spec B.4): INIT assert, INIT de-assert, 10 ms,
   * then two STARTUP IPIs 200 µs apart; the AP starts in real mode at `trampoline` (page aligned, below 1 MiB).
   */
  *startAp(apicId: number, trampoline: number, delay: Delay): Gen {
    if (trampoline % 4096 !== 0 || trampoline >= 0x10_0000) throw new Error(`lapic: AP trampoline 0x${trampoline.toString(16)} is not a page below 1 MiB`);
    yield* this.ipiRaw(APIC_TRIGMOD_LEVEL | APIC_LEVEL_ASSERT | APIC_DELMODE_INIT, apicId);
    yield* this.ipiRaw(APIC_TRIGMOD_LEVEL | APIC_LEVEL_DEASSERT | APIC_DELMODE_INIT, apicId);
    yield* delay(10_000);
    for (let i = 0; i < 2; i++) {
      yield* this.ipiRaw(APIC_LEVEL_ASSERT | APIC_DELMODE_STARTUP | (trampoline >>> 12), apicId);
      yield* delay(200);
    }
  }
}
