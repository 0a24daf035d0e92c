/** A CPU's idle loop: runs its queued kernel threads, serves its interrupts, then sleeps on its ports. */
import type { VcpuRequest } from '../../../../core/api/index.js';
import { runQueued } from './kern_thread.js';
import { runIntrOn, type Kernel } from './kernel.js';
import type { Pcpu } from './pcpu.js';

export function* idleLoop(k: Kernel, cpu: Pcpu): Generator<VcpuRequest, never, unknown> {
  for (;;) {
    if (yield* runQueued(k, cpu)) continue;
    if (yield* runIntrOn(cpu)) {
      yield cpu.v.preempt();
      continue;
    }
    if (cpu.runq.length > 0) continue;
    const ports = [...new Set(cpu.intr.map((h) => h.port))];
    const deadlines = cpu.intr.map((h) => h.deadline?.() ?? 0).filter((d) => d > 0);
    yield* cpu.events.wait(ports, deadlines.length > 0 ? Math.min(...deadlines) : 0);
  }
}
