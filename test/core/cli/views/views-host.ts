/**
 * The small deterministic host the view goldens are taken from: Dom0, the credit scheduler, xenstored
 * and the toolstack, and five guests built by the toolstack from a test kernel that prints a line on
 * the hypervisor console, then alternates compute bursts and sleeps (one guest crashes on purpose).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHostDefinition } from '../../../../core/config/host.js';
import { Host } from '../../../../core/host/host.js';
import { coreFeaturesOf } from '../../../../core/cli/machine.js';
import type { Domain, VcpuApi, VcpuCoroutine, VcpuProgram } from '../../../../core/api/domain.js';
import type { GuestKernel } from '../../../../core/api/guest-kernel.js';
import type { DomainConfig } from '../../../../core/api/toolstack.js';
import { CONSOLEIO, Hypercall, SCHEDOP, SHUTDOWN } from '../../../../core/public/index.js';
import { treeCatalog } from '../../../../plugins/catalog.js';

/** Where the test kernel keeps its scratch buffer (guest address, inside every guest's memory). */
// Plain RAM in every layout (PV: past start_info and the rings, before the P2M list and the read-only page tables).
const SCRATCH = 0x1_0000;

interface Behaviour {
  /** vCPUs the kernel brings up (the rest stay offline). */
  online: number;
  burstCycles: number;
  sleepUs: number;
  /** Crash (SCHEDOP_shutdown, SHUTDOWN_crash) after this much virtual time, ns. */
  crashAfterNs?: number;
}

const BEHAVIOUR: Readonly<Record<string, Behaviour>> = {
  web: { online: 2, burstCycles: 3_000_000, sleepUs: 1000 },
  db: { online: 1, burstCycles: 12_000_000, sleepUs: 2000 },
  'batch-worker-with-a-rather-long-name-01234567': { online: 1, burstCycles: 30_000_000, sleepUs: 0 },
  crashy: { online: 1, burstCycles: 1_000_000, sleepUs: 500, crashAfterNs: 300e6 },
  idle: { online: 1, burstCycles: 100_000, sleepUs: 50_000 },
};

function* work(v: VcpuApi, b: Behaviour, crashAt: number): VcpuCoroutine {
  for (;;) {
    yield* v.burn(b.burstCycles);
    if (b.crashAfterNs !== undefined && v.now >= crashAt) {
      v.memory.writeU32(SCRATCH, SHUTDOWN.crash);
      v.hypercall(Hypercall.sched_op, SCHEDOP.shutdown, SCRATCH);
      yield v.block();
    }
    yield b.sleepUs > 0 ? v.sleepFor(b.sleepUs * 1000) : v.yield();
  }
}

/** The test kernel: a console line from vCPU 0, its other vCPUs brought up, then the loop on each. */
const TEST_KERNEL: GuestKernel = {
  name: 'views-test',
  description: 'test kernel for the xl view goldens',
  types: ['pv', 'pvh'],
  entry(domain: Domain): VcpuProgram {
    const b = BEHAVIOUR[domain.name]!;
    return function* boot(v: VcpuApi): VcpuCoroutine {
      const crashAt = v.now + (b.crashAfterNs ?? 0);
      const line = new TextEncoder().encode(`${domain.name}: up with ${b.online} vcpu(s)\n`);
      v.memory.write(SCRATCH, line);
      v.hypercall(Hypercall.console_io, CONSOLEIO.write, line.length, SCRATCH);
      for (let i = 1; i < b.online; i++) {
        const vcpu = domain.vcpus[i]!;
        vcpu.setProgram((w) => work(w, b, crashAt));
        vcpu.up();
      }
      yield* work(v, b, crashAt);
    };
  },
};

function guest(name: string, extra: Record<string, unknown>): Record<string, unknown> {
  return { name, kernel: 'views-test', ...extra };
}

/**
 * Boots the host and builds the guests: four at once, `idle` 1.5 s later (and paused by the toolstack);
 * db gets weight 512 and cap 50. Returns at virtual time 0 + boot work; the caller runs it on.
 */
export async function bootViewsHost(): Promise<{ host: Host; dispose: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'xeno-views-'));
  const definition = {
    name: 'views',
    seed: 7,
    cpus: 4,
    memory: '2048MiB',
    dom0: { memory: '512MiB', vcpus: 2 },
    plugins: ['credit', { name: 'xenstored', options: { socket: join(dir, 'xenstored.sock') } }, 'toolstack', 'pv', 'pvh'],
    domains: [
      guest('web', { type: 'pvh', memory: 256, vcpus: 2 }),
      guest('db', { type: 'pv', memory: 512, maxmem: 1024, vcpus: 1, maxvcpus: 2, cpus: '2-3', cmdline: 'root=/dev/xvda1 ro' }),
      guest('batch-worker-with-a-rather-long-name-01234567', { type: 'pvh', memory: 128, vcpus: 1 }),
      guest('crashy', { type: 'pvh', memory: 64, vcpus: 1, on_crash: 'preserve' }),
      guest('idle', { type: 'pvh', memory: 64, vcpus: 1 }),
    ],
  };
  const r = resolveHostDefinition(definition, { file: 'views.yaml', loadDomainFile: () => ({ errors: [], warnings: [] }) });
  if (!r.host) throw new Error(r.errors.map((e) => e.message).join('\n'));
  const guests: DomainConfig[] = r.host.domains;
  const host = await Host.boot({ ...r.host, domains: [] }, { catalog: treeCatalog, coreFeatures: await coreFeaturesOf(treeCatalog) });
  host.kernels.register(TEST_KERNEL);
  const toolstack = host.toolstack!;
  const create = (config: DomainConfig) => {
    const job = toolstack.create(config);
    job.onSettled((j) => {
      if (j.error) throw j.error;
    });
    return job;
  };
  for (const g of guests.slice(0, 4)) create(g);
  host.runFor(1.5e9);
  create(guests[4]!).onSettled((j) => {
    if (j.result) toolstack.pause(j.result.domid);
  });
  host.runFor(0.5e9);
  const db = toolstack.find('db')!;
  host.pool.setDomainParams(db.domid as never, { weight: 512, cap: 50 });
  return {
    host,
    dispose: async () => {
      await host.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
