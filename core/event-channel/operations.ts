/** The event-channel operations (Xen's common/event_channel.c), one method per EVTCHNOP plus the hypervisor-side sends. */
import type { EvtchnPortStatus } from '../api/event-channel.js';
import { GuestError } from '../api/errors.js';
import type { Engine } from '../engine/engine.js';
import { TraceKind } from '../engine/trace.js';
import { NR_VIRQS, VIRQS_PER_VCPU } from '../public/event-channel.js';
import { domId, evtchnPort } from '../public/types.js';
import { DOMID_INVALID, DOMID_SELF, DOMID_XEN } from '../public/xen.js';
import { fifoDestroy, fifoExpandArray, fifoInitControl, type MapGuestFrame } from './fifo.js';
import { ECS, PortTable } from './port-table.js';

/** Who asks: the calling domain and whether it may act on other domains (XSM_TARGET). */
export interface Caller {
  readonly domid: number;
  readonly privileged: boolean;
}

/** PIRQs a domain may have (Xen's `nr_pirqs`: static IRQs plus extra_domU_irqs, rounded). */
export const NR_PIRQS = 256;

const GLOBAL_VIRQ = new Uint8Array(NR_VIRQS).fill(1);
for (const virq of VIRQS_PER_VCPU) GLOBAL_VIRQ[virq] = 0;

/** Xen's `virq_is_global` (every x86 arch VIRQ is global). */
export function virqIsGlobal(virq: number): boolean {
  return GLOBAL_VIRQ[virq] === 1;
}

function einval(t: PortTable, detail: string): GuestError {
  return new GuestError('EINVAL', `evtchn: ${detail}`, { domid: t.domid });
}

/** Every domain's port table and the operations on them. */
export class EvtchnCore {
  /** Tables by domid (a sparse array: the send path looks one up per call). */
  private readonly byDomid: (PortTable | undefined)[] = [];
  private readonly live = new Set<PortTable>();

  /**
   * @param mapFrame how Xen maps a guest frame for itself (FIFO control blocks and event arrays); without
   * one, EVTCHNOP_init_control and expand_array fail with EINVAL.
   */
  constructor(
    private readonly engine: Engine,
    private readonly mapFrame: MapGuestFrame = (t, gfn) => {
      throw einval(t, `frame 0x${gfn.toString(16)} cannot be mapped`);
    },
  ) {}

  // --- helpers ----------------------------------------------------------------------------------

  /** Virtual time, for hypervisor-side sends. */
  get now(): number {
    return this.engine.now;
  }

  /** The table of a live domain; ESRCH otherwise. */
  table(domid: number): PortTable {
    const t = this.byDomid[domid];
    if (t === undefined) throw new GuestError('ESRCH', `evtchn: no domain ${domid}`, { domid });
    return t;
  }

  has(domid: number): boolean {
    return this.byDomid[domid] !== undefined;
  }

  add(t: PortTable): void {
    this.byDomid[t.domid] = t;
    this.live.add(t);
  }

  remove(domid: number): void {
    const t = this.byDomid[domid];
    if (t === undefined) return;
    this.live.delete(t);
    t.listeners = undefined;
    this.byDomid[domid] = undefined;
  }

  /** Every table, in creation order. */
  all(): PortTable[] {
    return [...this.live];
  }

  /** Xen's `rcu_lock_domain_by_any_id` + XSM_TARGET: DOMID_SELF is the caller; another domain needs privilege (EPERM). */
  private target(caller: Caller, dom: number): PortTable {
    const domid = dom === DOMID_SELF ? caller.domid : dom;
    if (domid !== caller.domid && !caller.privileged) throw new GuestError('EPERM', `evtchn: dom${caller.domid} may not act on dom${domid}'s channels`, { domid: caller.domid });
    return this.table(domid);
  }

  /** Xen's `get_free_port`: EINVAL while dying, ENOSPC past `max_evtchn_port`. The port stays free until taken. */
  private freePort(t: PortTable): number {
    if (t.dying) throw einval(t, `dom${t.domid} is dying`);
    const port = t.freePort();
    if (port < 0) throw new GuestError('ENOSPC', `evtchn: dom${t.domid} has no free port (max ${t.maxPort})`, { domid: t.domid });
    return port;
  }

  private checkVcpu(t: PortTable, vcpu: number): void {
    if (!(vcpu >= 0 && vcpu < t.domain.vcpus.length)) throw new GuestError('ENOENT', `evtchn: dom${t.domid} has no vcpu${vcpu}`, { domid: t.domid });
  }

  private checkOpen(t: PortTable, port: number): number {
    if (!t.isValid(port)) throw einval(t, `port ${port} is out of range (dom${t.domid} has ${t.validPorts})`);
    const state = t.state[port]!;
    if (state === ECS.FREE || state === ECS.RESERVED) throw einval(t, `port ${port} of dom${t.domid} is not open`);
    return state;
  }

  private trace(time: number, domid: number, vcpu: number, port: number, toDom: number, toPort: number): void {
    this.engine.trace.record(time, TraceKind.EvtchnSend, domid, vcpu, port, toDom, toPort);
  }

  /** Sets `port` pending (the ABI's job), then calls the port's in-process listeners. */
  private raise(t: PortTable, vcpu: number, port: number): void {
    t.ops.setPending(t, vcpu, port);
    const heard = t.listeners?.get(port);
    if (typeof heard === 'function') heard();
    else if (heard !== undefined) for (const fn of [...heard]) fn();
  }

  /**
   * Calls `fn` each time `port` of `t` is set pending (already pending or not), until the returned
   * function is called or the port is closed. For Dom0 services that run in-process (xenstored).
   */
  onEvent(t: PortTable, port: number, fn: () => void): () => void {
    if (!t.isValid(port) || t.state[port] === ECS.FREE) throw einval(t, `port ${port} of dom${t.domid} is not open`);
    const ports = (t.listeners ??= new Map());
    const had = ports.get(port);
    ports.set(port, had === undefined ? fn : (typeof had === 'function' ? new Set([had]) : had).add(fn));
    return () => {
      const now = ports.get(port);
      if (now === fn) ports.delete(port);
      else if (typeof now === 'object') now.delete(fn);
    };
  }

  // --- operations ---------------------------------------------------------------------------------

  /** EVTCHNOP_alloc_unbound: a port of `dom` that `remoteDom` (DOMID_SELF: the caller) may bind to. */
  allocUnbound(caller: Caller, dom: number, remoteDom: number): number {
    const t = this.target(caller, dom);
    const port = this.freePort(t);
    t.take(port, ECS.UNBOUND, 0);
    t.remoteDom[port] = remoteDom === DOMID_SELF ? caller.domid : remoteDom;
    return port;
  }

  /** EVTCHNOP_bind_interdomain: connects a new port of `local` to `remoteDom`'s `remotePort`, which must be unbound and offered to `local`. */
  bindInterdomain(local: PortTable, remoteDom: number, remotePort: number): number {
    const rd = this.table(remoteDom === DOMID_SELF ? local.domid : remoteDom);
    const lport = this.freePort(local);
    if (!rd.isValid(remotePort) || rd.state[remotePort] !== ECS.UNBOUND || rd.remoteDom[remotePort] !== local.domid) {
      throw einval(local, `port ${remotePort} of dom${rd.domid} is not offered to dom${local.domid}`);
    }
    local.take(lport, ECS.INTERDOMAIN, 0);
    local.remoteDom[lport] = rd.domid;
    local.remotePort[lport] = remotePort;
    local.peer[lport] = rd;
    rd.state[remotePort] = ECS.INTERDOMAIN;
    rd.remoteDom[remotePort] = local.domid;
    rd.remotePort[remotePort] = lport;
    rd.peer[remotePort] = local;
    // Notifications sent to the unbound port were dropped: Xen conservatively raises the new port.
    this.raise(local, local.notifyVcpu[lport]!, lport);
    return lport;
  }

  /** EVTCHNOP_bind_virq: per-vCPU VIRQs on any vCPU, global ones on vCPU 0 only. */
  bindVirq(t: PortTable, virq: number, vcpu: number): number {
    if (!(virq >= 0 && virq < NR_VIRQS)) throw einval(t, `no VIRQ ${virq}`);
    if (virqIsGlobal(virq) && vcpu !== 0) throw einval(t, `global VIRQ ${virq} binds on vcpu0 only, not vcpu${vcpu}`);
    this.checkVcpu(t, vcpu);
    const slot = vcpu * NR_VIRQS + virq;
    if (t.virqToPort[slot] !== 0) throw new GuestError('EEXIST', `evtchn: VIRQ ${virq} of dom${t.domid} vcpu${vcpu} is already bound to port ${t.virqToPort[slot]}`, { domid: t.domid });
    const port = this.freePort(t);
    t.take(port, ECS.VIRQ, vcpu);
    t.bound[port] = virq;
    t.virqToPort[slot] = port;
    return port;
  }

  /** EVTCHNOP_bind_pirq: only a PIRQ granted to the domain (EPERM otherwise). */
  bindPirq(t: PortTable, pirq: number): number {
    if (!(pirq >= 0 && pirq < NR_PIRQS)) throw einval(t, `no PIRQ ${pirq}`);
    if (!t.grantedPirqs.has(pirq)) throw new GuestError('EPERM', `evtchn: dom${t.domid} may not bind PIRQ ${pirq}`, { domid: t.domid });
    if (t.pirqToPort.has(pirq)) throw new GuestError('EEXIST', `evtchn: PIRQ ${pirq} of dom${t.domid} is already bound to port ${t.pirqToPort.get(pirq)}`, { domid: t.domid });
    const port = this.freePort(t);
    t.take(port, ECS.PIRQ, 0);
    t.bound[port] = pirq;
    t.pirqToPort.set(pirq, port);
    return port;
  }

  /** EVTCHNOP_bind_ipi: a port that raises itself on `vcpu`. */
  bindIpi(t: PortTable, vcpu: number): number {
    this.checkVcpu(t, vcpu);
    const port = this.freePort(t);
    t.take(port, ECS.IPI, vcpu);
    return port;
  }

  /** EVTCHNOP_close (Xen's `evtchn_close`): clears the pending bit; an interdomain peer goes back to unbound, offered to this domain. */
  close(t: PortTable, port: number): void {
    const state = this.checkOpen(t, port);
    if (state === ECS.PIRQ) {
      t.pirqToPort.delete(t.bound[port]!);
    } else if (state === ECS.VIRQ) {
      const virq = t.bound[port]!;
      for (let v = 0; v < t.domain.vcpus.length; v++) if (t.virqToPort[v * NR_VIRQS + virq] === port) t.virqToPort[v * NR_VIRQS + virq] = 0;
    } else if (state === ECS.INTERDOMAIN) {
      const peer = t.peer[port]!;
      const rport = t.remotePort[port]!;
      peer.state[rport] = ECS.UNBOUND;
      peer.remoteDom[rport] = t.domid;
      peer.remotePort[rport] = 0;
      peer.peer[rport] = undefined;
    }
    t.ops.clearPending(t, port);
    t.listeners?.delete(port);
    t.release(port);
  }

  /** EVTCHNOP_send (Xen's `evtchn_send`): interdomain raises the peer, IPI raises itself, unbound drops. Recorded as TraceKind.EvtchnSend. */
  send(t: PortTable, port: number, vcpu: number, time: number): void {
    if (!t.isValid(port)) throw einval(t, `port ${port} is out of range (dom${t.domid} has ${t.validPorts})`);
    const state = t.state[port];
    if (state === ECS.INTERDOMAIN) {
      const peer = t.peer[port]!;
      const rport = t.remotePort[port]!;
      this.trace(time, t.domid, vcpu, port, peer.domid, rport);
      this.raise(peer, peer.notifyVcpu[rport]!, rport);
    } else if (state === ECS.IPI) {
      this.trace(time, t.domid, vcpu, port, t.domid, port);
      this.raise(t, t.notifyVcpu[port]!, port);
    } else if (state === ECS.UNBOUND) {
      this.trace(time, t.domid, vcpu, port, DOMID_INVALID, 0);
    } else {
      throw einval(t, `port ${port} of dom${t.domid} cannot send (not interdomain, IPI or unbound)`);
    }
  }

  /** EVTCHNOP_status: any domain for privileged callers, the caller's own otherwise. */
  status(caller: Caller, dom: number, port: number): EvtchnPortStatus {
    const t = this.target(caller, dom);
    if (!t.isValid(port)) throw einval(t, `port ${port} is out of range (dom${t.domid} has ${t.validPorts})`);
    return this.portStatus(t, port);
  }

  /** A valid port's status record. */
  portStatus(t: PortTable, port: number): EvtchnPortStatus {
    const vcpu = t.notifyVcpu[port]!;
    switch (t.state[port]) {
      case ECS.UNBOUND:
        return { status: 'unbound', vcpu, remoteDom: domId(t.remoteDom[port]!) };
      case ECS.INTERDOMAIN:
        return { status: 'interdomain', vcpu, remoteDom: domId(t.remoteDom[port]!), remotePort: evtchnPort(t.remotePort[port]!) };
      case ECS.PIRQ:
        return { status: 'pirq', vcpu, pirq: t.bound[port]! };
      case ECS.VIRQ:
        return { status: 'virq', vcpu, virq: t.bound[port]! };
      case ECS.IPI:
        return { status: 'ipi', vcpu };
      default:
        return { status: 'closed', vcpu };
    }
  }

  /** EVTCHNOP_bind_vcpu: moves the notified vCPU of an unbound, interdomain, PIRQ or global-VIRQ port (per-vCPU VIRQs and IPIs: EINVAL). */
  bindVcpu(t: PortTable, port: number, vcpu: number): void {
    this.checkVcpu(t, vcpu);
    if (!t.isValid(port)) throw einval(t, `port ${port} is out of range (dom${t.domid} has ${t.validPorts})`);
    const state = t.state[port];
    const movable = state === ECS.UNBOUND || state === ECS.INTERDOMAIN || state === ECS.PIRQ || (state === ECS.VIRQ && virqIsGlobal(t.bound[port]!));
    if (!movable) throw einval(t, `port ${port} of dom${t.domid} cannot move to another vcpu`);
    t.notifyVcpu[port] = vcpu;
  }

  /** EVTCHNOP_unmask: any valid port (as Xen); delivers when pending. */
  unmask(t: PortTable, port: number): void {
    if (!t.isValid(port)) throw einval(t, `port ${port} is out of range (dom${t.domid} has ${t.validPorts})`);
    t.ops.unmask(t, port);
    t.upcall.maybeDeassert();
  }

  /** EVTCHNOP_reset: closes every port of `dom` (self, or a paused domain for a privileged caller); a FIFO domain goes back to 2-level. */
  reset(caller: Caller, dom: number): void {
    const t = this.target(caller, dom);
    if (t.domid !== caller.domid && t.domain.pauseCount === 0) throw einval(t, `dom${t.domid} must be paused to be reset`);
    this.closeAll(t);
    fifoDestroy(t);
  }

  /** EVTCHNOP_init_control: vCPU `vcpu`'s FIFO control block at `offset` in the caller's frame `gfn`; the first switches the domain to FIFO. Returns link_bits. */
  initControl(t: PortTable, vcpu: number, gfn: number, offset: number): number {
    return fifoInitControl(t, this.mapFrame, vcpu, gfn, offset);
  }

  /** EVTCHNOP_expand_array: the caller's frame `gfn` becomes the next event-array page (EOPNOTSUPP under 2-level). */
  expandArray(t: PortTable, gfn: number): void {
    fifoExpandArray(t, this.mapFrame, gfn);
  }

  /** EVTCHNOP_set_priority: EINVAL for an invalid port or priority, ENOSYS under 2-level. */
  setPriority(t: PortTable, port: number, priority: number): void {
    if (!t.isValid(port)) throw einval(t, `port ${port} is out of range (dom${t.domid} has ${t.validPorts})`);
    if (t.ops.setPriority === undefined) throw new GuestError('ENOSYS', `evtchn: dom${t.domid} uses the 2-level ABI: no priorities`, { domid: t.domid });
    t.ops.setPriority(t, port, priority);
  }

  /** Xen's `evtchn_destroy` (domain_kill): no new ports, every port closed, FIFO state dropped. */
  destroy(t: PortTable): void {
    t.dying = true;
    this.closeAll(t);
    fifoDestroy(t);
  }

  private closeAll(t: PortTable): void {
    for (let port = 1; port < t.validPorts; port++) {
      const state = t.state[port];
      if (state !== ECS.FREE && state !== ECS.RESERVED) this.close(t, port);
    }
  }

  // --- hypervisor-side sends ----------------------------------------------------------------------

  /** `send_guest_vcpu_virq`; a global VIRQ goes as `send_guest_global_virq`. */
  sendVirq(t: PortTable, vcpu: number, virq: number): boolean {
    if (!(virq >= 0 && virq < NR_VIRQS)) throw einval(t, `no VIRQ ${virq}`);
    if (virqIsGlobal(virq)) return this.sendGlobalVirq(t, virq);
    this.checkVcpu(t, vcpu);
    const port = t.virqToPort[vcpu * NR_VIRQS + virq]!;
    if (port === 0) return false;
    this.raise(t, vcpu, port);
    this.trace(this.engine.now, t.domid, vcpu, port, DOMID_XEN, virq);
    return true;
  }

  /** `send_guest_global_virq`: the port bound on vCPU 0, raised on its notify vCPU. */
  sendGlobalVirq(t: PortTable, virq: number): boolean {
    if (!(virq >= 0 && virq < NR_VIRQS) || !virqIsGlobal(virq)) throw einval(t, `VIRQ ${virq} is not global`);
    const port = t.virqToPort[virq]!;
    if (port === 0) return false;
    const vcpu = t.notifyVcpu[port]!;
    this.raise(t, vcpu, port);
    this.trace(this.engine.now, t.domid, vcpu, port, DOMID_XEN, virq);
    return true;
  }

  /** `send_guest_pirq`. */
  sendPirq(t: PortTable, pirq: number): boolean {
    const port = t.pirqToPort.get(pirq);
    if (port === undefined) return false;
    const vcpu = t.notifyVcpu[port]!;
    this.raise(t, vcpu, port);
    this.trace(this.engine.now, t.domid, vcpu, port, DOMID_XEN, pirq);
    return true;
  }
}
