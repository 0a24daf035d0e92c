/**
 * Toolstack benchmarks (issue 5): creating a PVH domain with its console and xenstore set up through our
 * xenstored — the whole toolstack job, as Dom0 work, run to completion — on an empty host and with
 * 10,000 domains already running; and the host memory each idle domain costs.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Toolstack, type Toolstack as ToolstackApi } from '../../core/api/index.js';
import { bootToolstackHost, guest, settle, type ToolstackHost } from '../plugins/dom0/toolstack/harness.js';
import { type Benchmark, median, nowMs } from './harness.js';

const GUEST = guest('name = "g"\ntype = "pvh"\nkernel = "idle"\nmemory = 32\n');
const named = (name: string) => ({ ...GUEST, name });

async function boot(): Promise<{ t: ToolstackHost; toolstack: ToolstackApi }> {
  // Warnings only: the test harness keeps its log in memory, which a host logging to a terminal or file does not.
  const t = await bootToolstackHost({ memoryMiB: 512 * 1024, cpus: 4, logLevel: 'warn' });
  return { t, toolstack: t.host.plugins.resolveAll(Toolstack)[0]! };
}

/** Wall µs of each of `n` creates (each run until its job settles), named from `prefix`. */
function createMany(t: ToolstackHost, toolstack: ToolstackApi, n: number, prefix: string): number[] {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = nowMs();
    const job = settle(t.host, toolstack.create(named(`${prefix}${i}`)));
    samples.push((nowMs() - t0) * 1000);
    if (job.error) throw job.error;
  }
  return samples;
}

/** A full collection, so heap figures count live objects only (the flag is set at run time: the bench runs without --expose-gc). */
function fullGc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** JS heap + ArrayBuffer bytes in use after a full collection. */
function liveBytes(): number {
  fullGc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

let shared: { t: ToolstackHost; toolstack: ToolstackApi; emptyMedian: number } | undefined;

async function emptyHost(): Promise<{ t: ToolstackHost; toolstack: ToolstackApi; emptyMedian: number }> {
  if (shared) return shared;
  const { t, toolstack } = await boot();
  createMany(t, toolstack, 200, 'warm');
  for (const d of toolstack.list()) settle(t.host, toolstack.destroy(d.domid));
  const samples = createMany(t, toolstack, 300, 'a');
  for (const d of toolstack.list()) settle(t.host, toolstack.destroy(d.domid));
  shared = { t, toolstack, emptyMedian: median(samples) / 1000 };
  return shared;
}

export const benchmarks: Benchmark[] = [
  {
    group: 'toolstack',
    name: 'create a PVH domain (console + xenstore through xenstored), empty host',
    unit: 'ms',
    target: { max: 1 },
    run: async () => {
      const { emptyMedian } = await emptyHost();
      return { value: emptyMedian, detail: 'median wall time of 300 creates, each run until its Dom0 job settles' };
    },
  },
  {
    group: 'toolstack',
    name: 'create a PVH domain with 10,000 domains running (× the empty-host median)',
    unit: '×',
    target: { max: 1.2 },
    run: async () => {
      const { t, toolstack, emptyMedian } = await emptyHost();
      const bytes0 = liveBytes();
      const frames0 = t.host.memory.backedFrames;
      createMany(t, toolstack, 10_000, 'idle');
      t.host.runFor(10e6);
      idleKiB = (liveBytes() - bytes0) / 10_000 / 1024;
      idleFrames = (t.host.memory.backedFrames - frames0) / 10_000;
      const samples = createMany(t, toolstack, 300, 'b');
      return { value: median(samples) / 1000 / emptyMedian, detail: `median ${(median(samples) / 1000).toFixed(3)} ms with 10,000 running vs ${emptyMedian.toFixed(3)} ms empty` };
    },
  },
  {
    group: 'toolstack',
    name: 'host memory per idle domain (10,000 PVH domains of 32 MiB)',
    unit: 'KiB',
    target: { max: 64 },
    run: () => {
      if (idleKiB === undefined) throw new Error('runs after the 10,000-domain benchmark');
      return {
        value: idleKiB,
        detail: `live JS heap + ArrayBuffer growth over 10,000 creates, after full GCs (guest RAM is backed lazily; touched pages count: ${idleFrames!.toFixed(1)} machine frames per domain, ${(idleFrames! * 4).toFixed(0)} KiB of it)`,
      };
    },
  },
];

let idleKiB: number | undefined;
let idleFrames: number | undefined;
