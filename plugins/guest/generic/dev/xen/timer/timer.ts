/**
 * xentimer (FreeBSD's dev/xen/timer/xen_timer.c): the Xen PV timer as the event timer of every CPU.
 * Each CPU arms its own VCPUOP_set_singleshot_timer one hardclock period ahead (1/`kern.hz` s) and
 * counts a tick when VIRQ_TIMER fires and the deadline passed; periods missed while the vCPU did not
 * run are skipped, not replayed. CPU 0's ticks are the kernel's `ticks`.
 */
import type { VcpuRequest } from '../../../../../../core/api/index.js';
import type { Driver } from '../../../kern/bus.js';
import type { Kernel } from '../../../kern/kernel.js';
import type { Pcpu } from '../../../kern/pcpu.js';

/** Starts hardclock on `cpu` (it runs on that CPU). */
function* startTimer(k: Kernel, cpu: Pcpu): Generator<VcpuRequest, void, unknown> {
  const clock = k.hooks.clock;
  const period = 1e9 / k.hz;
  const source = clock.source(cpu);
  cpu.nextTick = clock.nanouptime(cpu) + period;
  clock.arm(cpu, cpu.nextTick);
  k.bindIntr(
    {
      name: `xentimer:cpu${cpu.id}`,
      port: cpu.timerPort,
      // eslint-disable-next-line require-yield
      *handle(pending) {
        if (pending) cpu.countIntr(source);
        const now = clock.nanouptime(cpu);
        if (now < cpu.nextTick) return false;
        if (cpu.id === 0) k.ticks++;
        cpu.nextTick += period;
        if (cpu.nextTick <= now) cpu.nextTick += Math.ceil((now - cpu.nextTick + 1) / period) * period;
        clock.arm(cpu, cpu.nextTick);
        return false;
      },
      deadline: () => cpu.nextTick,
    },
    cpu,
  );
  yield* [];
}

export const xentimerDriver: Driver = {
  name: 'xentimer',
  description: 'Xen PV Clock',
  *attach(k, dev) {
    k.printf(`${dev.nameunit}: ${k.hooks.clock.name}, hardclock at ${k.hz} Hz on every CPU`);
    k.printf(`Timecounter "XENTIMER" frequency 1000000000 Hz quality 950`);
    k.printf(`Event timer "XENTIMER" frequency 1000000000 Hz quality 950`);
    k.cpuStart.push((cpu) => startTimer(k, cpu));
    k.sysctl.addRo('kern.timecounter.hardware', 'Timecounter hardware selected', () => 'XENTIMER');
    k.sysctl.addRo('kern.eventtimer.timer', 'Chosen event timer', () => 'XENTIMER');
    k.sysctl.addRo('kern.ticks', 'hardclock ticks since boot', () => k.ticks);
    yield* [];
  },
};
