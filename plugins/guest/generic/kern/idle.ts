/** A CPU's idle loop: runs its queued kernel threads, serves its interrupts, then sleeps on its ports. */
import type { VcpuRequest } from '../../../../core/api/index.js';
import { runQueued } from './kern_thread.js';
import { type Kernel } from './kernel.js';
import { runIntr, startWaitIntr, waitIntr } from './kern_intr.js';
import type { Pcpu } from './pcpu.js';

export function* idleLoop(k: Kernel, cpu: Pcpu): Generator<VcpuRequest, never, unknown> {
  for (;;) {
    if (cpu.runq.length > 0 && (yield* runQueued(k, cpu))) continue;
    // The round runs without a generator of its own unless a handler answers with one.
    const r = runIntr(cpu);
    if (typeof r === 'boolean' ? r : yield* r) {
      yield cpu.v.preempt();
      continue;
    }
    if (cpu.runq.length > 0) continue;
    const wait = startWaitIntr(cpu);
    if (wait !== undefined) yield wait;
    else yield* waitIntr(cpu, 0, false);
  }
}
