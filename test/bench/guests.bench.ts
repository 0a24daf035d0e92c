/**
 * Guest benchmarks (issue 6): 1,000 idle PV guests, each running the reference kernel with its 100 Hz
 * xentimer (a VCPUOP_set_singleshot_timer and a VIRQ_TIMER upcall per tick), simulated for one second.
 */
import { Toolstack } from '../../core/api/index.js';
import { TraceKind } from '../../core/engine/index.js';
import { Hypercall } from '../../core/public/index.js';
import { bootToolstackHost, guest, settle } from '../plugins/dom0/toolstack/harness.js';
import { type Benchmark, nowMs } from './harness.js';

// BENCH_GUESTS scales the run down for a quick look (the figure then is not the issue's).
const GUESTS = Number(process.env.BENCH_GUESTS ?? 1000);

export const benchmarks: Benchmark[] = [
  {
    group: 'guests',
    name: `${GUESTS.toLocaleString('en-US')} idle PV guests with 100 Hz timers, one simulated second`,
    unit: 's wall',
    target: { max: 1 },
    run: async () => {
      const t = await bootToolstackHost({ modes: ['pv'], plugins: ['generic-kernel'], cpus: 4, memoryMiB: GUESTS * 16 + 4096 });
      try {
        const toolstack = t.host.plugins.resolveAll(Toolstack)[0]!;
        const config = guest('name = "idle"\ntype = "pv"\nkernel = "generic"\nmemory = 16\nvcpus = 1\n');
        for (let i = 0; i < GUESTS; i++) {
          const job = settle(t.host, toolstack.create({ ...config, name: `idle${i}` }));
          if (job.error) throw job.error;
        }
        t.host.runFor(0.2e9); // every kernel booted and idle
        let timers = 0;
        const stop = t.host.engine.trace.subscribe((r) => {
          if (r.kind === TraceKind.Hypercall && r.a === Hypercall.vcpu_op && r.domid !== 0) timers++;
        });
        const t0 = nowMs();
        t.host.runFor(1e9);
        const wall = (nowMs() - t0) / 1000;
        stop();
        if (timers < GUESTS * 90) throw new Error(`only ${timers} vcpu_op calls from the guests in one second: the 100 Hz timers did not run`);
        return { value: wall, detail: `${timers} vcpu_op (timer) hypercalls from the guests, ${(timers / GUESTS).toFixed(0)} per guest` };
      } finally {
        await t.cleanup();
      }
    },
  },
];
