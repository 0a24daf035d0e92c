/** Domain benchmarks: create + destroy of a domain with no devices. */
import 'reflect-metadata';
import { container } from 'tsyringe';
import { Engine } from '../../core/engine/engine.js';
import { createLogger } from '../../core/api/log.js';
import { CpuPoolImpl } from '../../core/cpu/cpupool.js';
import { DomainRegistryImpl } from '../../core/domain/domain-registry.js';
import { FakeMachineMemory } from '../../core/testing/fake-machine-memory.js';
import { createCreditScheduler } from '../../plugins/schedulers/credit/index.js';
import { type Benchmark, median, nowMs } from './harness.js';

function setup(): DomainRegistryImpl {
  const engine = new Engine({ seed: 1 });
  const log = createLogger('bench', () => {}, () => engine.now, 'warn');
  const pool = new CpuPoolImpl({ engine, scheduler: createCreditScheduler({ tslice_ms: 30, ratelimit_us: 1000 }), cpus: 4, log });
  return new DomainRegistryImpl({ engine, pool, memory: new FakeMachineMemory(1 << 16), container: container.createChildContainer(), log });
}

/** Median µs of one create + destroy (1 vCPU, 256 pages), over batches of `batch`. */
function createDestroyMicros(batches: number, batch: number): number {
  const domains = setup();
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = nowMs();
    for (let i = 0; i < batch; i++) {
      const d = domains.create({ maxPages: 256, pages: 256 });
      domains.destroy(d.domid);
    }
    samples.push(((nowMs() - t0) * 1000) / batch);
  }
  return median(samples);
}

export const benchmarks: Benchmark[] = [
  {
    group: 'domain',
    name: 'create + destroy (1 vCPU, 256 pages, no devices)',
    unit: 'µs',
    target: { max: 50 },
    run: () => {
      createDestroyMicros(20, 200);
      return { value: createDestroyMicros(100, 100), detail: 'median of 100 batches of 100' };
    },
  },
];
