/** Test host: an engine, a CPU pool with a chosen scheduler, fake memory, the hypercall table and the domain registry. */
import { container } from 'tsyringe';
import { Engine } from '../../../core/engine/engine.js';
import { MemoryLogSink, createLogger, type Logger } from '../../../core/api/log.js';
import type { SchedulerOps, SchedDecision, SchedulerHost, SchedVcpu, SchedDomainParams } from '../../../core/api/scheduler.js';
import type { VcpuApi, VcpuCoroutine } from '../../../core/api/domain.js';
import { CpuPoolImpl } from '../../../core/cpu/cpupool.js';
import { DomainRegistryImpl } from '../../../core/domain/domain-registry.js';
import { FakeMachineMemory } from '../../../core/testing/fake-machine-memory.js';
import { HypercallTableImpl } from '../../../core/hypercall/table.js';
import { HypercallDispatcherImpl } from '../../../core/hypercall/dispatch.js';
import { registerXenVersion } from '../../../core/hypercall/xen-version.js';
import type { DomId, PcpuId } from '../../../core/public/types.js';

export interface TestHost {
  engine: Engine;
  sink: MemoryLogSink;
  log: Logger;
  pool: CpuPoolImpl;
  memory: FakeMachineMemory;
  table: HypercallTableImpl;
  dispatcher: HypercallDispatcherImpl;
  domains: DomainRegistryImpl;
}

export function makeHost(scheduler: SchedulerOps, options: { cpus?: number; quantum?: number; seed?: number; frames?: number } = {}): TestHost {
  const engine = new Engine({ seed: options.seed ?? 1 });
  const sink = new MemoryLogSink();
  const log = createLogger('test', sink.sink, () => engine.now, 'debug');
  const pool = new CpuPoolImpl({ engine, scheduler, cpus: options.cpus ?? 1, quantum: options.quantum, log: log.child('sched') });
  const memory = new FakeMachineMemory(options.frames ?? 4096);
  const table = new HypercallTableImpl();
  registerXenVersion(table);
  const dispatcher = new HypercallDispatcherImpl(table, engine, log.child('hypercall'));
  const domains = new DomainRegistryImpl({ engine, pool, memory, container: container.createChildContainer(), log, dispatcher });
  return { engine, sink, log, pool, memory, table, dispatcher, domains };
}

/** A CPU-bound program: computes forever in 100 µs steps with preemption points. */
export function* spin(v: VcpuApi): VcpuCoroutine {
  for (;;) {
    v.compute(300_000);
    yield v.preempt();
  }
}

/**
 * A minimal round-robin scheduler for testing the runner on its own: one global FIFO, honours hard
 * affinity, fixed slice.
 */
export class FifoScheduler implements SchedulerOps {
  readonly name = 'FIFO test scheduler';
  readonly optName = 'fifo';
  private host!: SchedulerHost;
  readonly queue: SchedVcpu[] = [];
  constructor(private readonly slice = 10_000_000) {}
  init(host: SchedulerHost): void {
    this.host = host;
  }
  deinit(): void {}
  insertDomain(_domid: DomId): void {}
  removeDomain(_domid: DomId): void {}
  insertVcpu(_v: SchedVcpu): void {}
  removeVcpu(v: SchedVcpu): void {
    this.drop(v);
  }
  private drop(v: SchedVcpu): void {
    const i = this.queue.indexOf(v);
    if (i >= 0) this.queue.splice(i, 1);
  }
  wake(v: SchedVcpu): void {
    if (this.queue.includes(v)) return;
    this.queue.push(v);
    for (const cpu of this.host.cpus) {
      if (v.hardAffinity.has(cpu) && this.host.current(cpu) === null) {
        this.host.tickle(cpu);
        return;
      }
    }
  }
  sleep(v: SchedVcpu): void {
    this.drop(v);
  }
  yield(_v: SchedVcpu): void {}
  doSchedule(cpu: PcpuId, _now: number, prev: SchedVcpu | null): SchedDecision {
    if (prev !== null && prev.runnable && !this.queue.includes(prev)) this.queue.push(prev);
    const i = this.queue.findIndex((v) => v.hardAffinity.has(cpu));
    const next = i < 0 ? null : this.queue.splice(i, 1)[0]!;
    for (const v of this.queue) {
      for (const other of v.hardAffinity) if (other !== cpu && this.host.cpus.has(other) && this.host.current(other) === null) this.host.tickle(other);
    }
    return next === null ? { next: null, slice: Infinity } : { next, slice: this.slice };
  }
  affinityChanged(_v: SchedVcpu): void {}
  getDomainParams(_domid: DomId): SchedDomainParams {
    return {};
  }
  setDomainParams(_domid: DomId, _params: SchedDomainParams): void {}
  dump(): string {
    return `fifo: ${this.queue.map((v) => `d${v.domid}v${v.vcpuId}`).join(' ')}`;
  }
}

export const MS = 1_000_000;
