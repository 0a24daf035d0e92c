/**
 * `mutexbench [threads] [iterations] [hold-cycles]`: threads on every CPU (thread i on CPU i mod ncpu)
 * take one mutex `iterations` times each, hold it for `hold-cycles` of work and do as much work
 * outside it; prints acquisitions, contention, spin cycles, sleeps and the elapsed virtual time, so
 * adaptive and blocking mutexes (options NO_ADAPTIVE_MUTEXES) can be compared under Xen's scheduling.
 */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';
import { Mtx } from '../kern/kern_mutex.js';
import { kthreadAdd, type KThread } from '../kern/kern_thread.js';
import { tsleep } from '../kern/kern_intr.js';
import type { ShellCommand } from './commands.js';

/** `cycles` of work split at preemption points (VcpuApi.burn, seen from a kernel coroutine). */
function work(v: VcpuApi, cycles: number): Generator<VcpuRequest, void, unknown> {
  return v.burn(cycles) as Generator<VcpuRequest, void, unknown>;
}

const USAGE = 'usage: mutexbench [threads] [iterations] [hold-cycles]';

function arg(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new Error(`${what} must be a whole number ≥ 1 (${USAGE})`);
  return Number(text);
}

export const mutexbench: ShellCommand = {
  name: 'mutexbench',
  summary: 'contend one mutex from every CPU: mutexbench [threads] [iterations] [hold-cycles]',
  *run(args, io) {
    const k = io.kernel;
    const cpus = k.cpus.filter((c) => c?.online);
    const threads = arg(args[0], cpus.length, 'threads');
    const iterations = arg(args[1], 1000, 'iterations');
    const hold = arg(args[2], 2000, 'hold-cycles');
    if (threads > cpus.length) throw new Error(`${threads} threads on ${cpus.length} CPUs: at most one thread per CPU (no in-kernel preemption)`);
    const mtx = new Mtx(k, 'mutexbench', !k.option('NO_ADAPTIVE_MUTEXES'));
    const bsp = k.bsp;
    let finished = 0;
    const body = function* (td: KThread): Generator<VcpuRequest, void, unknown> {
      const v = td.cpu.v;
      for (let i = 0; i < iterations; i++) {
        yield* mtx.lock(td);
        yield* work(v, hold);
        mtx.unlock(td);
        yield* work(v, hold);
      }
      finished++;
      if (td.cpu !== bsp) k.hooks.ipi.send(td.cpu, bsp);
    };
    const start = k.v.now;
    const own: KThread[] = [];
    for (let i = 0; i < threads; i++) {
      const cpu = cpus[i % cpus.length]!;
      const td = kthreadAdd(k, cpu, `mutexbench${i}`, body, bsp);
      if (cpu === bsp) own.push(td);
    }
    // The boot CPU runs its share here (the shell is its thread), then waits for the others.
    for (const td of own) {
      bsp.runq.splice(bsp.runq.indexOf(td), 1);
      td.state = 'Run';
      yield* body(td);
      k.threads.splice(k.threads.indexOf(td), 1);
    }
    yield* tsleep(bsp, () => finished === threads);
    const s = mtx.stats;
    io.print(`mutexbench: ${threads} threads x ${iterations} iterations, ${mtx.adaptive ? 'adaptive' : 'blocking (NO_ADAPTIVE_MUTEXES)'}${k.mtxRunstateCheck && mtx.adaptive ? ' with runstate check' : ''}\n`);
    io.print(`acquisitions ${s.acquisitions}\ncontested ${s.contested}\nspin cycles ${s.spinCycles}\nsleeps ${s.sleeps}\nelapsed ${Math.round(k.v.now - start)} ns\n`);
    return 0;
  },
};
