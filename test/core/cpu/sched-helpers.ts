/** Helpers for the scheduling-ops tests: a fake event-channel API under the real token, direct hypercalls, and struct writers. */
import type { Host } from '../../../core/host/host.js';
import type { HypervisorContext } from '../../../core/host/subsystem.js';
import { EVENT_CHANNELS_TOKEN, SchedOps, type EventChannelHooks } from '../../../core/cpu/sched-state.js';
import { VcpuInfo } from '../../../core/public/shared-info.js';
import { vcpuOf } from '../../hypervisor/harness.js';

/** One VIRQ the fake delivered. */
export interface VirqRecord {
  domid: number;
  vcpu: number;
  virq: number;
  at: number;
}

/**
 * Stands in for the event-channel subsystem (a stub in this tree): records VIRQs, and raising one sets
 * the vCPU's evtchn_upcall_pending and kicks it, as the 2-level ABI does for a bound, unmasked port.
 */
export class FakeEventChannels implements EventChannelHooks {
  readonly virqs: VirqRecord[] = [];
  readonly pending = new Set<string>();
  constructor(private readonly host: Host) {}

  isPending(domid: number, port: number): boolean {
    return this.pending.has(`${domid}:${port}`);
  }

  sendVirq(domid: number, vcpu: number, virq: number): void {
    this.virqs.push({ domid, vcpu, virq, at: this.host.engine.now });
    this.markPending(domid, vcpu);
  }

  /** A port becomes pending (masked: no upcall), and pollers are checked as Xen's evtchn_check_pollers does. */
  raisePort(domid: number, port: number, options: { masked?: boolean; vcpu?: number } = {}): void {
    this.pending.add(`${domid}:${port}`);
    if (options.masked !== true) this.markPending(domid, options.vcpu ?? 0);
    this.host.container.resolve(SchedOps).checkPollers(domid, port);
  }

  private markPending(domid: number, vcpu: number): void {
    const loc = this.host.sharedInfoOf(domid)?.vcpuInfo(vcpu);
    if (loc !== undefined) loc.view.setUint8(loc.offset + VcpuInfo.evtchnUpcallPending, 1);
    this.host.domains.get(domid)?.vcpus[vcpu]?.kick();
  }

  virqsOf(domid: number, vcpu: number): VirqRecord[] {
    return this.virqs.filter((r) => r.domid === domid && r.vcpu === vcpu);
  }
}

/** Registers a fake event-channel API in the host container (where the real one will register). */
export function installFakeEventChannels(host: Host): FakeEventChannels {
  const fake = new FakeEventChannels(host);
  host.container.registerInstance(EVENT_CHANNELS_TOKEN, fake);
  return fake;
}

/** A hypercall straight through the host's dispatcher as `domid`'s vCPU `vcpu` (no program needed; nothing blocks). */
export function call(host: Host, domid: number, vcpu: number, nr: number, ...args: number[]): number {
  const padded = [...args, 0, 0, 0, 0, 0].slice(0, 5);
  return host.dispatcher.dispatch(vcpuOf(host, domid, vcpu), nr, padded);
}

/** Little-endian struct writer into a domain's memory through its vCPU's guest access. */
export function writer(host: Host, domid: number, vcpu = 0) {
  const g = vcpuOf(host, domid, vcpu).guest;
  return {
    u16: (addr: number, v: number) => g.writeU16(addr, v),
    u32: (addr: number, v: number) => g.writeU32(addr, v),
    u64: (addr: number, v: number | bigint) => g.writeU64Big(addr, BigInt.asUintN(64, BigInt(v))),
    bytes: (addr: number, data: Uint8Array) => g.write(addr, data),
    read: (addr: number, n: number) => g.read(addr, n),
  };
}

/** The upcall flags of a vCPU's vcpu_info. */
export function upcall(host: Host, domid: number, vcpu: number): { pending: number; mask: number } {
  const loc = host.sharedInfoOf(domid)!.vcpuInfo(vcpu);
  return { pending: loc.view.getUint8(loc.offset + VcpuInfo.evtchnUpcallPending), mask: loc.view.getUint8(loc.offset + VcpuInfo.evtchnUpcallMask) };
}

export const MS = 1_000_000;

/** The host's hypervisor context, with another container (to run a core without some in-core API). */
export function contextOf(h: Host, container = h.container): HypervisorContext {
  return {
    engine: h.engine,
    memory: h.memory,
    domains: h.domains,
    pool: h.pool,
    hypercalls: h.hypercalls,
    timers: h.timers,
    container,
    log: h.log,
    p2mOf: (d) => h.p2mOf(d),
    sharedInfoOf: (d) => h.sharedInfoOf(d),
    hvmParamsOf: (d) => h.hvmParamsOf(d),
    guestAccessOf: (d, v) => h.guestAccessOf(d, v),
  };
}
