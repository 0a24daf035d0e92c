/** A host with xenstored and the toolstack, a test kernel, and helpers to run toolstack jobs to completion. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHostDefinition } from '../../../../core/config/host.js';
import { parseDomainXl } from '../../../../core/config/domain.js';
import { Host } from '../../../../core/host/host.js';
import { MemoryLogSink, type LogLevel } from '../../../../core/api/log.js';
import type { Dom0Job } from '../../../../core/api/dom0.js';
import type { DomainConfig } from '../../../../core/api/toolstack.js';
import type { VcpuApi, VcpuCoroutine } from '../../../../core/api/domain.js';
import { treeCatalog } from '../../../../plugins/catalog.js';
import { coreFeaturesOf } from '../../../../core/cli/machine.js';

function* idle(v: VcpuApi): VcpuCoroutine {
  for (;;) yield v.block();
}

/** A kernel that idles: its vCPU blocks forever (the builder's work is what these tests check). One program for every domain, as one kernel image serves many guests. */
export const IDLE_KERNEL = {
  name: 'idle',
  description: 'blocks forever',
  types: ['pv', 'pvh'] as const,
  entry: () => idle,
};

export interface ToolstackHost {
  host: Host;
  logs: MemoryLogSink;
  runDir: string;
  cleanup(): Promise<void>;
}

/** The guest modes a toolstack host gets unless a test names its own. */
export const DEFAULT_MODES = ['pv', 'pvh'];

/** `logLevel`: what the in-memory log keeps (default debug; a benchmark of memory keeps only warnings, as a host logging to a file would hold none). */
export async function bootToolstackHost(options: { plugins?: string[]; modes?: string[]; cpus?: number; memoryMiB?: number; logLevel?: LogLevel; devices?: { bdf: string; kind: string; model: string }[] } = {}): Promise<ToolstackHost> {
  const runDir = mkdtempSync(join(tmpdir(), 'xeno-ts-'));
  const definition = {
    name: 'ts-test',
    seed: 7,
    cpus: options.cpus ?? 2,
    memory: `${options.memoryMiB ?? 2048}MiB`,
    dom0: { memory: '64MiB', vcpus: 1 },
    plugins: ['credit', 'xenstored', 'toolstack', ...(options.modes ?? DEFAULT_MODES), ...(options.plugins ?? [])],

    domains: [],
    ...(options.devices ? { devices: options.devices } : {}),
  };
  const r = resolveHostDefinition(definition, { file: join(runDir, 'host.yaml'), loadDomainFile: () => ({ errors: [], warnings: [] }) });
  if (!r.host) throw new Error(r.errors.map((e) => e.message).join('\n'));
  const logs = new MemoryLogSink();
  const host = await Host.boot(r.host, { catalog: treeCatalog, coreFeatures: await coreFeaturesOf(treeCatalog), logSink: logs.sink, logLevel: options.logLevel ?? 'debug', runDir });
  if (!host.kernels.get('idle')) host.kernels.register({ ...IDLE_KERNEL, types: [...IDLE_KERNEL.types] });
  return {
    host,
    logs,
    runDir,
    cleanup: async () => {
      await host.shutdown();
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

/** A guest config from xl.cfg text (file: the given name in `dir`). */
export function guest(text: string, file = '/tmp/guest.cfg'): DomainConfig {
  const r = parseDomainXl(text, file);
  if (!r.domain) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.domain;
}

/** Runs the engine until `job` settles (or `limitNs` of virtual time passes: then throws). */
export function settle<T>(host: Host, job: Dom0Job<T>, limitNs = 5e9): Dom0Job<T> {
  const end = host.engine.now + limitNs;
  while (job.state === 'queued' || job.state === 'running') {
    if (host.engine.now >= end) throw new Error(`${job.name}: not settled after ${limitNs / 1e9} s of virtual time`);
    host.engine.runFor(1e6);
  }
  return job;
}
