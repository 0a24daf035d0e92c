/**
 * The HVM subsystem: an emulated platform for every HVM, PVHVM and PVH domain from creation to death,
 * the ioreq servers device models attach to, the per-vCPU instructions the host installs, and the
 * VM-exit counters (in-core API `HvmPlatforms`, `IoreqServers` for Dom0's device-model host).
 */
import type { SubsystemFactory, HypervisorContext } from '../host/subsystem.js';
import type { Domain, VcpuInstructions, VcpuProgram } from '../api/domain.js';
import { GuestError } from '../api/errors.js';
import { EventChannels } from '../api/event-channel.js';
import { IoreqServers, type IoreqServer } from '../api/hvm.js';
import { HvmPlatforms, type HvmExitStats } from '../api/hvm-platform.js';
import { SchedOps } from '../cpu/sched-state.js';
import type { SchedCore } from '../cpu/sched-core.js';
import { IOREQ_SIZE } from '../public/ioreq.js';
import { pcpuId } from '../public/types.js';
import { HvmDomainPlatform } from './domain-platform.js';
import { hvmInstructions } from './instructions.js';
import { IOREQ_PAGE_SIZE, IoreqServerImpl } from './ioreq-server.js';

export class HvmPlatformsImpl implements HvmPlatforms, IoreqServers {
  private readonly platforms = new Map<number, HvmDomainPlatform>();
  private nextServerId = 0;
  private readonly log;

  constructor(private readonly hv: HypervisorContext) {
    this.log = hv.log.child('hvm');
  }

  // --- domain lifecycle ----------------------------------------------------------------------------

  /** A new HVM/PVHVM/PVH domain gets its platform, and its event-channel callbacks go to it. */
  domainCreated(d: Domain): void {
    if (d.mode === 'pv') return;
    const platform = new HvmDomainPlatform({
      engine: this.hv.engine,
      log: this.log,
      domain: d,
      shadow: (this.hv.hvmPaging ?? 'hap') === 'shadow',
      tsc: this.hv.timers.tsc.forCpu(pcpuId(0)),
      entryPoint: this.entryPoint,
    });
    this.platforms.set(d.domid, platform);
    if (this.hv.container.isRegistered(EventChannels, true)) this.hv.container.resolve(EventChannels).setHvmIrqSink(d.domid, platform);
  }

  /** Xen's domain_kill for the platform: timers, servers and wake-up checks go before the vCPUs do. */
  domainDying(domid: number): void {
    const platform = this.platforms.get(domid);
    if (platform === undefined) return;
    this.platforms.delete(domid);
    platform.dispose();
  }

  /** Every domain's platform shares this one function (not a closure per domain). */
  private readonly entryPoint = (domid: number, rip: number): VcpuProgram | undefined => {
    if (!this.hv.container.isRegistered(SchedOps, true)) return undefined;
    return (this.hv.container.resolve(SchedOps) as SchedCore).domain(domid).entryPoints.get(rip);
  };

  /**
   * The instructions of vCPU `vcpu` of an HVM/PVHVM/PVH domain, over `base` (CPUID and the Xen MSRs
   * from the platform subsystem); HLT among them. The host installs them at creation.
   */
  instructionsFor(domid: number, vcpu: number, base: Pick<VcpuInstructions, 'cpuid' | 'rdmsr' | 'wrmsr'>): VcpuInstructions {
    const platform = this.platformOf(domid);
    const s = platform.vcpu(vcpu);
    if (s === undefined) throw new GuestError('ENOENT', `dom${domid} has no vcpu${vcpu}`, { domid });
    return hvmInstructions({ platform, vcpu: s, base, log: this.log });
  }

  // --- IoreqServers --------------------------------------------------------------------------------

  create(domid: number): IoreqServer {
    const d = this.hv.domains.lookup(domid);
    if (d.mode === 'pv' || d.mode === 'pvh') throw new GuestError('EINVAL', `dom${domid} is a ${d.mode.toUpperCase()} domain: it has no device model`, { domid });
    if (d.vcpus.length * IOREQ_SIZE > IOREQ_PAGE_SIZE) throw new GuestError('EINVAL', `dom${domid}: ${d.vcpus.length} vCPUs do not fit one ioreq page`, { domid });
    const platform = this.platformOf(domid);
    const server = new IoreqServerImpl(this.nextServerId++, platform, d.guestMemory, this.hv.engine, this.log);
    platform.servers.push(server);
    return server;
  }

  serversOf(domid: number): readonly IoreqServer[] {
    return [...(this.platforms.get(domid)?.servers ?? [])];
  }

  // --- HvmPlatforms --------------------------------------------------------------------------------

  has(domid: number): boolean {
    return this.platforms.has(domid);
  }

  exits(domid: number): HvmExitStats {
    return this.platformOf(domid).exits.snapshot();
  }

  /** The platform of `domid`: ESRCH for an unknown domain, EINVAL for a PV one. */
  platformOf(domid: number): HvmDomainPlatform {
    const platform = this.platforms.get(domid);
    if (platform !== undefined) return platform;
    const d = this.hv.domains.lookup(domid);
    throw new GuestError('EINVAL', `dom${domid} is a ${d.mode.toUpperCase()} domain: it has no HVM platform`, { domid });
  }

  dump(): string {
    const lines = [`hvm: ${this.platforms.size} platform(s)`];
    for (const [, p] of [...this.platforms].sort((a, b) => a[0] - b[0])) lines.push(p.dump());
    return lines.join('\n');
  }
}

/** Makes the HVM subsystem (after event channels and scheduling ops: it installs sinks and looks up entry points). */
export const createHvmPlatforms: SubsystemFactory = (hv) => {
  const platforms = new HvmPlatformsImpl(hv);
  const onCreated = (d: Domain) => platforms.domainCreated(d);
  const onDying = (d: Domain) => platforms.domainDying(d.domid);
  const onDestroyed = (domid: number) => platforms.domainDying(domid);
  hv.domains.events.on('created', onCreated);
  hv.domains.events.on('dying', onDying);
  hv.domains.events.on('destroyed', onDestroyed);
  hv.container.registerInstance(HvmPlatforms, platforms);
  hv.container.registerInstance(IoreqServers, platforms);
  return {
    name: 'hvm',
    dump: () => platforms.dump(),
    dispose: () => {
      hv.domains.events.off('created', onCreated);
      hv.domains.events.off('dying', onDying);
      hv.domains.events.off('destroyed', onDestroyed);
      for (const d of hv.domains.list()) platforms.domainDying(d.domid);
    },
  };
};

