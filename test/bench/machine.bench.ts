/** Whole-machine benchmarks: the default machine's simulation speed, and that two runs agree. */
import { join } from 'node:path';
import { loadHostDefinition } from '../../core/config/index.js';
import { Host } from '../../core/host/host.js';
import { coreFeaturesOf } from '../../core/cli/machine.js';
import { treeCatalog } from '../../plugins/catalog.js';
import { type Benchmark, nowMs } from './harness.js';

const DEFAULT = join(import.meta.dirname, '..', '..', 'config', 'machines', 'default.yaml');

async function runDefault(simulatedNs: number): Promise<{ hash: string; wallMs: number; events: number; guests: number }> {
  const { host: def } = await loadHostDefinition(DEFAULT);
  const host = await Host.boot(def, { catalog: treeCatalog, coreFeatures: await coreFeaturesOf(treeCatalog) });
  const t0 = nowMs();
  host.runFor(simulatedNs);
  const wallMs = nowMs() - t0;
  const result = { hash: host.engine.trace.hash, wallMs, events: host.engine.eventCount, guests: host.domains.size - 1 };
  await host.shutdown();
  return result;
}

export const benchmarks: Benchmark[] = [
  {
    group: 'machine',
    name: 'default machine: simulated seconds per wall second',
    unit: '× real time',
    run: async () => {
      const r = await runDefault(2e9);
      return { value: 2e9 / 1e6 / r.wallMs, detail: `2 s simulated, ${r.events} events, Dom0 + ${r.guests} guests built by the toolstack, on 4 pCPUs` };
    },
  },
  {
    group: 'determinism',
    name: 'default machine run twice (1 s each): identical trace hash',
    unit: 'runs agree',
    target: { min: 1 },
    run: async () => {
      const a = await runDefault(1e9);
      const b = await runDefault(1e9);
      return { value: a.hash === b.hash ? 1 : 0, detail: `${a.hash} vs ${b.hash}` };
    },
  },
];
