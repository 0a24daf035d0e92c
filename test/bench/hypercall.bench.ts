/** Hypercall benchmarks: dispatch of a null hypercall from a real vCPU (table lookup, cost, trace). */
import 'reflect-metadata';
import { container } from 'tsyringe';
import { Engine } from '../../core/engine/engine.js';
import { createLogger } from '../../core/api/log.js';
import { CpuPoolImpl } from '../../core/cpu/cpupool.js';
import type { VcpuImpl } from '../../core/cpu/vcpu.js';
import { DomainRegistryImpl } from '../../core/domain/domain-registry.js';
import { HypercallTableImpl } from '../../core/hypercall/table.js';
import { HypercallDispatcherImpl } from '../../core/hypercall/dispatch.js';
import { registerXenVersion } from '../../core/hypercall/xen-version.js';
import { FakeMachineMemory } from '../../core/testing/fake-machine-memory.js';
import { Hypercall } from '../../core/public/xen.js';
import { createCreditScheduler } from '../../plugins/schedulers/credit/index.js';
import { type Benchmark, opsPerSecond } from './harness.js';

function nullHypercallsPerSecond(): number {
  const engine = new Engine({ seed: 1 });
  const log = createLogger('bench', () => {}, () => engine.now, 'warn');
  const pool = new CpuPoolImpl({ engine, scheduler: createCreditScheduler({ tslice_ms: 30, ratelimit_us: 1000 }), cpus: 1, log });
  const table = new HypercallTableImpl();
  registerXenVersion(table);
  const dispatcher = new HypercallDispatcherImpl(table, engine, log);
  const domains = new DomainRegistryImpl({ engine, pool, memory: new FakeMachineMemory(16), container: container.createChildContainer(), log, dispatcher });
  const vcpu = domains.create({ mode: 'hvm' }).vcpus[0] as VcpuImpl;
  const args = [0, 0, 0, 0, 0];
  const nr = Hypercall.xen_version;
  let sink = 0;
  const ops = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) sink += dispatcher.dispatch(vcpu, nr, args);
  });
  if (sink === 0.5) console.log(sink);
  return ops;
}

export const benchmarks: Benchmark[] = [
  {
    group: 'hypercall',
    name: 'null hypercall dispatch (xen_version XENVER_version, HVM caller)',
    unit: 'M/s',
    target: { min: 10 },
    run: () => {
      nullHypercallsPerSecond();
      return { value: Math.max(nullHypercallsPerSecond(), nullHypercallsPerSecond()) / 1e6, detail: 'best of 2, after a warm-up' };
    },
  },
];
