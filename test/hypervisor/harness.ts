/**
 * A real host for hypervisor-service tests: boot it from a small definition, then run guest programs
 * on chosen vCPUs that make hypercalls with pointers into their own memory (paging off: guest-physical).
 */
import { resolveHostDefinition } from '../../core/config/host.js';
import { Host } from '../../core/host/host.js';
import { MemoryLogSink } from '../../core/api/log.js';
import type { VcpuApi, VcpuCoroutine } from '../../core/api/domain.js';
import { treeCatalog } from '../../plugins/catalog.js';
import { coreFeaturesOf } from '../../core/cli/machine.js';
import type { VcpuImpl } from '../../core/cpu/index.js';

export interface TestGuest {
  name: string;
  type?: 'pv' | 'pvh' | 'hvm';
  /** MiB (default 16). */
  memory?: number;
  vcpus?: number;
}

export interface TestHostOptions {
  cpus?: number;
  /** Host memory in MiB (default 1024). */
  memory?: number;
  /** Dom0 memory in MiB (default 64). */
  dom0Memory?: number;
  guests?: TestGuest[];
  seed?: number;
}

/** Boots a host with Dom0 (domid 0) and the given guests (domids 1, 2, ... in order), none running a program. */
export async function bootTestHost(options: TestHostOptions = {}): Promise<{ host: Host; logs: MemoryLogSink }> {
  const definition = {
    name: 'test',
    seed: options.seed ?? 1,
    cpus: options.cpus ?? 2,
    memory: `${options.memory ?? 1024}MiB`,
    dom0: { memory: `${options.dom0Memory ?? 64}MiB`, vcpus: 1 },
    plugins: ['credit'],
    domains: (options.guests ?? []).map((g) => ({ name: g.name, type: g.type ?? 'pvh', kernel: 'generic', memory: g.memory ?? 16, vcpus: g.vcpus ?? 1 })),
  };
  const r = resolveHostDefinition(definition, { file: 'test.yaml', loadDomainFile: () => ({ errors: [], warnings: [] }) });
  if (!r.host) throw new Error(r.errors.map((e) => e.message).join('\n'));
  const logs = new MemoryLogSink();
  const host = await Host.boot(r.host, { catalog: treeCatalog, coreFeatures: await coreFeaturesOf(treeCatalog), logSink: logs.sink, logLevel: 'debug' });
  return { host, logs };
}

/** The vCPU object (the hypercall context) of `domid`/`vcpu`. */
export function vcpuOf(host: Host, domid: number, vcpu = 0): VcpuImpl {
  return host.domains.lookup(domid).vcpus[vcpu] as VcpuImpl;
}

/**
 * Runs `body` as the program of `domid`'s vCPU `vcpu` until it returns (or `limitNs` of virtual time
 * passes), and returns what it returned. The body may `yield` blocking requests.
 */
export function runOnVcpu<T>(host: Host, domid: number, vcpu: number, body: (v: VcpuApi) => Generator<ReturnType<VcpuApi['block']>, T, unknown>, limitNs = 1e9): T {
  let result: { value: T } | undefined;
  let failure: unknown;
  vcpuOf(host, domid, vcpu).setProgram(function* program(v: VcpuApi): VcpuCoroutine {
    try {
      const value: T = yield* body(v);
      result = { value };
    } catch (error) {
      failure = error;
    }
    yield v.block();
  } as never);
  const until = host.engine.now + limitNs;
  while (result === undefined && failure === undefined && host.engine.now < until) host.engine.runFor(1e6);
  if (failure !== undefined) throw failure;
  if (result === undefined) throw new Error(`dom${domid} vcpu${vcpu}: program did not finish within ${limitNs} ns`);
  return result.value;
}

/** Makes one hypercall from `domid`'s vCPU, as guest code would, and returns its result. */
export function hypercallFrom(host: Host, domid: number, nr: number, ...args: number[]): number {
  return runOnVcpu(host, domid, 0, function* (v) {
    return v.hypercall(nr, ...args);
  });
}
