/**
 * xentimer (FreeBSD's dev/xen/timer/xen_timer.c): the Xen PV timer as the event timer of every CPU
 * (VCPUOP_set_singleshot_timer, VIRQ_TIMER), driving hardclock (kern/kern_clock.ts). It attaches on
 * xenpv0 (PV, PVH) or xenpci0 (PVHVM).
 */
import type { Driver } from '../../../kern/bus.js';
import { registerClockSysctls, startHardclock } from '../../../kern/kern_clock.js';

export const xentimerDriver: Driver = {
  name: 'xentimer',
  description: 'Xen PV Clock',
  *attach(k, dev) {
    k.printf(`${dev.nameunit}: ${k.hooks.clock.name}, hardclock at ${k.hz} Hz on every CPU`);
    k.printf(`Timecounter "XENTIMER" frequency 1000000000 Hz quality 950`);
    k.printf(`Event timer "XENTIMER" frequency 1000000000 Hz quality 950`);
    k.cpuStart.push((cpu) => startHardclock(k, cpu, 'xentimer'));
    registerClockSysctls(k, 'XENTIMER', 'XENTIMER');
    yield* [];
  },
};
