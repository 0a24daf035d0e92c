/**
 * hardclock (FreeBSD's kern/kern_clock.c with its event-timer glue, much reduced): each CPU's event
 * timer, whichever the clock hook chose (the Xen PV timer, the LAPIC timer), is armed one period
 * (1/`kern.hz` s) ahead and counts a tick when it fires and the deadline passed; periods missed while
 * the vCPU did not run are skipped, not replayed. CPU 0's ticks are the kernel's `ticks`.
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { Kernel } from './kernel.js';
import { armOnce, type Pcpu } from './pcpu.js';

/** Starts hardclock on `cpu` (it runs on that CPU, after the clock hook's cpuInit). */
export function* startHardclock(k: Kernel, cpu: Pcpu, name: string): Generator<VcpuRequest, void, unknown> {
  const clock = k.hooks.clock;
  // Whole nanoseconds: Xen's timer takes integer ns, so a fractional deadline would wake the CPU a
  // fraction early — before the tick it was armed for — and cost a second wake-up per tick.
  const period = Math.round(1e9 / k.hz);
  const counter = cpu.intrCounter(clock.source(cpu));
  const arm = (deadline: number): void => clock.arm(cpu, deadline);
  cpu.nextTick = Math.ceil(clock.nanouptime(cpu)) + period;
  armOnce(cpu, cpu.nextTick, arm);
  // hardclock never blocks: it answers at once rather than as a generator (it runs on every tick).
  k.bindIntr(
    {
      name: `${name}:cpu${cpu.id}`,
      port: cpu.timerPort,
      handle(pending) {
        if (pending) {
          counter.count++;
          // A one-shot timer that fired is no longer armed (even when it fired a little early, below).
          cpu.armedDeadline = 0;
        }
        const now = clock.nanouptime(cpu);
        if (now < cpu.nextTick) {
          armOnce(cpu, cpu.nextTick, arm);
          return false;
        }
        if (cpu.id === 0) k.ticks++;
        cpu.nextTick += period;
        if (cpu.nextTick <= now) cpu.nextTick += Math.ceil((now - cpu.nextTick + 1) / period) * period;
        armOnce(cpu, cpu.nextTick, arm);
        return false;
      },
      // The armed timer's event wakes the CPU for the tick; only an unarmed tick needs the idle wait's timeout.
      deadline: () => (cpu.armedDeadline === cpu.nextTick ? 0 : cpu.nextTick),
    },
    cpu,
  );
  yield* [];
}

/** `kern.ticks` and the event timer's sysctls, registered once by whichever timer drives hardclock. */
export function registerClockSysctls(k: Kernel, timecounter: string, eventtimer: string): void {
  k.sysctl.addRo('kern.timecounter.hardware', 'Timecounter hardware selected', () => timecounter);
  k.sysctl.addRo('kern.eventtimer.timer', 'Chosen event timer', () => eventtimer);
  k.sysctl.addRo('kern.ticks', 'hardclock ticks since boot', () => k.ticks);
}
