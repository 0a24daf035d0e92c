/** A guest workload: every vCPU of the chosen domains alternates compute bursts, a hypercall and a sleep. */
import { token, type Domain, type DomainRegistry, type Engine, type VcpuApi, type VcpuCoroutine, type VcpuProgram } from '../../../core/api/index.js';
import { Hypercall } from '../../../core/public/index.js';
import type { CpuLoopOptions } from './options.js';

/** Counts what the loop did, for reports and tests. */
export interface CpuLoopMetrics {
  bursts: number;
  hypercalls: number;
}

/** Token under which the plugin provides its {@link CpuLoop} (reports and tests read its metrics). */
export const CpuLoopToken = token<CpuLoop>('plugin:cpu-loop');

export class CpuLoop {
  readonly metrics: CpuLoopMetrics = { bursts: 0, hypercalls: 0 };
  private readonly wanted: ReadonlySet<string> | null;

  constructor(
    private readonly options: CpuLoopOptions,
    private readonly engine: Engine,
  ) {
    this.wanted = options.domains ? new Set(options.domains) : null;
  }

  /** True when `domain` should run the loop. */
  selects(domain: Domain): boolean {
    return this.wanted ? this.wanted.has(domain.name) : domain.domid !== 0;
  }

  /** Gives every vCPU of `domain` the loop. */
  attach(domain: Domain): void {
    for (const vcpu of domain.vcpus) vcpu.setProgram(this.program(`${domain.name}/${vcpu.vcpuId}`));
  }

  /** Attaches to the selected domains that exist and to those created later; returns a detacher. */
  follow(domains: DomainRegistry): () => void {
    for (const d of domains.list()) if (this.selects(d)) this.attach(d);
    const onCreated = (d: Domain): void => {
      if (this.selects(d)) this.attach(d);
    };
    domains.events.on('created', onCreated);
    return () => domains.events.off('created', onCreated);
  }

  private program(stream: string): VcpuProgram {
    const rng = this.engine.rng.fork(`cpu-loop/${stream}`);
    const { burstCycles, jitter, sleepUs, hypercall } = this.options;
    const metrics = this.metrics;
    return function* loop(v: VcpuApi): VcpuCoroutine {
      for (;;) {
        const scale = 1 - jitter + 2 * jitter * rng.nextFloat();
        yield* v.burn(Math.max(1, Math.round(burstCycles * scale)));
        metrics.bursts++;
        if (hypercall) {
          v.hypercall(Hypercall.xen_version, 0);
          metrics.hypercalls++;
        }
        yield sleepUs > 0 ? v.sleepFor(sleepUs * 1000) : v.yield();
      }
    };
  }
}
