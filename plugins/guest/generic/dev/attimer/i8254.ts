/**
 * The i8254 PIT driver (FreeBSD's x86/isa/clock.c and i8254.h): channel 0 as a free-running rate
 * generator whose latched count measures short intervals — DELAY() before any other clock is
 * calibrated, and the reference the local APIC timer is calibrated against.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';
import type { Driver } from '../../kern/bus.js';
import type { IsaInterrupts } from '../../x86/io_apic.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

export const TIMER_FREQ = 1_193_182;
export const IO_TIMER1 = 0x40;
export const TIMER_CNTR0 = IO_TIMER1;
export const TIMER_MODE = IO_TIMER1 + 3;
/** Mode-register fields (i8254.h). */
export const TIMER_SEL0 = 0x00;
export const TIMER_LATCH = 0x00;
export const TIMER_RATEGEN = 0x04;
export const TIMER_16BIT = 0x30;
/** The largest count (0 programs 65536). */
const TIMER0_MAX_COUNT = 0x1_0000;

export class I8254 {
  /** Channel 0 reads (latch + two bytes) so far: what DELAY costs. */
  reads = 0;

  constructor(private readonly v: VcpuApi) {}

  /** i8254_init: channel 0, mode 2, the full 16-bit count. */
  *init(): Gen {
    yield* this.v.outPort(TIMER_MODE, 1, TIMER_SEL0 | TIMER_RATEGEN | TIMER_16BIT);
    yield* this.v.outPort(TIMER_CNTR0, 1, 0);
    yield* this.v.outPort(TIMER_CNTR0, 1, 0);
  }

  /** getit: latches channel 0 and reads its count, low byte first. */
  *count(): Gen<number> {
    this.reads++;
    yield* this.v.outPort(TIMER_MODE, 1, TIMER_SEL0 | TIMER_LATCH);
    const low = yield* this.v.inPort(TIMER_CNTR0, 1);
    const high = yield* this.v.inPort(TIMER_CNTR0, 1);
    return (high << 8) | low;
  }

  /** i8254_delay: spins until `us` µs of PIT ticks went by (the count runs down and wraps). */
  *delay(us: number): Gen {
    let left = Math.ceil((us * TIMER_FREQ) / 1e6);
    let prev = yield* this.count();
    while (left > 0) {
      const tick = yield* this.count();
      let delta = prev - tick;
      if (delta < 0) delta += TIMER0_MAX_COUNT;
      left -= delta;
      prev = tick;
    }
  }
}

/** attimer0 on isa0: programs the PIT; IRQ0 (pin 2) is routed but stays masked while the local APIC is the event timer. */
export function attimerDriver(pit: I8254, isa: IsaInterrupts): Driver {
  return {
    name: 'attimer',
    description: 'AT timer',
    *attach(k, dev) {
      yield* pit.init();
      yield* isa.setup(0, { name: `irq0: ${dev.nameunit}`, *handle() {} }, true);
      k.printf(`${dev.nameunit}: at port 0x40-0x43 irq 0 (masked) on ${dev.parent?.nameunit ?? 'isa0'}`);
      k.printf(`Timecounter "i8254" frequency ${TIMER_FREQ} Hz`);
    },
  };
}
