/** The event-channel subsystem: registers hypercall 32, the in-core EventChannels API, per-domain state and the debug dump. */
import type { Domain } from '../api/domain.js';
import { EventChannels as EventChannelsToken, type EventChannels, type HvmIrqSink } from '../api/event-channel.js';
import { GuestError } from '../api/errors.js';
import { P2mType } from '../api/memory.js';
import type { HypervisorContext, Subsystem, SubsystemFactory } from '../host/subsystem.js';
import { DEFAULT_MAX_EVTCHN_PORT, EVTCHN_FIFO_NR_CHANNELS } from '../public/event-channel.js';
import { HVM_PARAM } from '../public/hvm.js';
import { evtchnPort, guestFrame, machineFrame, type DomId } from '../public/types.js';
import { eventChannelOpHandler } from './dispatch.js';
import { fifoDescribe, type MapGuestFrame } from './fifo.js';
import { EvtchnCore, type Caller } from './operations.js';
import { ECS, PortTable } from './port-table.js';
import { UpcallDelivery } from './upcall.js';

/** Lowest vector HVMOP_set_evtchn_upcall_vector accepts (below are exceptions). */
const MIN_UPCALL_VECTOR = 0x10;
const ECS_NAMES = ['free', 'reserved', 'unbound', 'interdomain', 'pirq', 'virq', 'ipi'];

/**
 * Xen's `map_guest_page` for FIFO structures: a writable RAM frame of the domain (PV: the MFN it owns; else
 * a gfn its P2M maps as ram_rw or log-dirty RAM); EINVAL otherwise. Unlike Xen, no page reference is held:
 * a guest that frees the frame afterwards keeps writing into it through the hypervisor.
 */
function guestFrameMapper(ctx: HypervisorContext): MapGuestFrame {
  return (t, gfn) => {
    const { domid } = t;
    const bad = (why: string): never => {
      throw new GuestError('EINVAL', `evtchn: frame 0x${gfn.toString(16)} ${why}`, { domid });
    };
    if (!Number.isSafeInteger(gfn) || gfn < 0) bad('is out of range');
    let mfn = gfn;
    if (t.domain.mode !== 'pv') {
      const entry = ctx.p2mOf(domid)?.lookup(guestFrame(gfn));
      if (entry === undefined || (entry.type !== P2mType.ram_rw && entry.type !== P2mType.ram_logdirty)) bad(`is not writable RAM of dom${domid}`);
      mfn = entry!.mfn;
    }
    if (ctx.memory.ownerOf(machineFrame(mfn)) !== domid) bad(`is not a page of dom${domid}`);
    return ctx.memory.frameWords(machineFrame(mfn));
  };
}

/** The in-core API over the core: acts as the hypervisor (privileged, no XSM check). Also `maxPorts` for SCHEDOP_poll (Xen's `max_evtchns`). */
function inCoreApi(core: EvtchnCore): EventChannels & { maxPorts(domid: number): number } {
  const asXen = (domid: number): Caller => ({ domid, privileged: true });
  return {
    sendVirq: (domid, vcpu, virq) => core.sendVirq(core.table(domid), vcpu, virq),
    sendGlobalVirq: (domid, virq) => core.sendGlobalVirq(core.table(domid), virq),
    sendPirq: (domid, pirq) => core.sendPirq(core.table(domid), pirq),
    notify(domid, port) {
      const t = core.table(domid);
      core.send(t, port, t.isValid(port) ? t.notifyVcpu[port]! : 0, core.now);
    },
    allocUnbound: (domid, remoteDomid) => evtchnPort(core.allocUnbound(asXen(domid), domid, remoteDomid)),
    bindInterdomain: (domid, remoteDomid, remotePort) => evtchnPort(core.bindInterdomain(core.table(domid), remoteDomid, remotePort)),
    close: (domid, port) => core.close(core.table(domid), port),
    isPending(domid, port) {
      const t = core.table(domid);
      return t.isValid(port) && t.ops.isPending(t, port);
    },
    status: (domid, port) => core.status(asXen(domid), domid, port),
    portsInUse: (domid) => core.table(domid).inUse,
    maxPorts: (domid) => core.table(domid).abiPorts,
    setMaxPorts(domid, maxPort) {
      if (!Number.isInteger(maxPort) || maxPort < 0) throw new GuestError('EINVAL', `evtchn: max port ${maxPort} is not a port number`, { domid });
      core.table(domid).setMaxPort(maxPort);
    },
    grantPirq: (domid, pirq) => void core.table(domid).grantedPirqs.add(pirq),
    setUpcallVector(domid, vcpu, vector) {
      const t = core.table(domid);
      if (!t.upcall.hvm) throw new GuestError('EINVAL', `evtchn: dom${domid} is PV: no upcall vector`, { domid });
      if (!(Number.isInteger(vector) && vector >= MIN_UPCALL_VECTOR && vector <= 0xff)) throw new GuestError('EINVAL', `evtchn: upcall vector ${vector} is not in 0x10..0xff`, { domid });
      if (!(vcpu >= 0 && vcpu < t.domain.vcpus.length)) throw new GuestError('ENOENT', `evtchn: dom${domid} has no vcpu${vcpu}`, { domid });
      t.upcall.setUpcallVector(vcpu, vector);
    },
    setHvmIrqSink: (domid, sink) => core.table(domid).upcall.setSink(sink),
    hvmIrqSink: (domid): HvmIrqSink => core.table(domid).upcall.sink,
    updateCallbackIrq: (domid) => core.table(domid).upcall.maybeDeassert(),
    onEvent: (domid, port, fn) => core.onEvent(core.table(domid), port, fn),
    pollPorts(domid, vcpu, ports) {
      const t = core.table(domid);
      const pollers = (t.pollers ??= []);
      if (pollers[vcpu] === undefined) t.pollerCount++;
      pollers[vcpu] = ports;
      return () => {
        if (pollers[vcpu] !== ports) return;
        pollers[vcpu] = undefined;
        t.pollerCount--;
      };
    },
  };
}

/** One line per open port: `  5 interdomain → dom0:3 vcpu0 P M`. */
function dumpTable(t: PortTable): string[] {
  const { hvm, via, asserted } = t.upcall;
  const line = via.type === 'gsi' || via.type === 'pci-intx' ? (asserted ? ' asserted' : ' deasserted') : '';
  const fifo = t.fifo === undefined ? '' : `, ${t.fifo.pages.length} event-array page(s)`;
  const lines = [`dom${t.domid} (${t.ops.name}${fifo}, ${t.inUse} port(s) open, max port ${t.maxPort}${hvm ? `, callback ${via.type}${line}` : ''})`];
  for (let port = 1; port < t.validPorts; port++) {
    const state = t.state[port]!;
    if (state === ECS.FREE) continue;
    let what = ECS_NAMES[state]!;
    if (state === ECS.UNBOUND) what += ` → dom${t.remoteDom[port]}`;
    else if (state === ECS.INTERDOMAIN) what += ` → dom${t.remoteDom[port]}:${t.remotePort[port]}`;
    else if (state === ECS.VIRQ || state === ECS.PIRQ) what += ` ${t.bound[port]}`;
    const flags = t.fifo !== undefined ? ` ${fifoDescribe(t, port)}` : `${t.ops.isPending(t, port) ? ' P' : ''}${t.ops.isMasked(t, port) ? ' M' : ''}`;
    lines.push(`  ${String(port).padStart(4)} ${what} vcpu${t.notifyVcpu[port]}${flags}`);
  }
  return lines;
}

/**
 * Makes the subsystem: per-domain port tables from `created` (and for domains that already exist),
 * every port closed on `dying` (peers go back to unbound), state dropped on `destroyed`.
 */
export const createEventChannels: SubsystemFactory = (ctx: HypervisorContext): Subsystem => {
  const core = new EvtchnCore(ctx.engine, guestFrameMapper(ctx));
  const log = ctx.log.child('evtchn');
  /** Each domain's upcall delivery, hooked to its vCPUs and HVM params until the domain is destroyed. */
  const upcalls = new Map<number, UpcallDelivery>();

  function init(d: Domain): void {
    const shared = ctx.sharedInfoOf(d.domid);
    if (shared === undefined) {
      log.error(`dom${d.domid}: no shared-info page, so no event channels`);
      return;
    }
    const upcall = new UpcallDelivery(d, shared);
    const t = new PortTable(d, shared, upcall, d.domid === 0 ? EVTCHN_FIFO_NR_CHANNELS - 1 : DEFAULT_MAX_EVTCHN_PORT);
    core.add(t);
    for (const v of d.vcpus) v.addPendingSource(upcall);
    const params = upcall.hvm ? ctx.hvmParamsOf(d.domid) : undefined;
    if (params !== undefined) {
      params.events.on('changed', upcall.paramChanged, upcall);
      const via = params.get(HVM_PARAM.CALLBACK_IRQ);
      if (via !== 0n) upcall.setCallbackVia(via);
    }
    upcalls.set(d.domid, upcall);
  }

  function dying(d: Domain): void {
    if (!core.has(d.domid)) return;
    const t = core.table(d.domid);
    core.destroy(t);
    t.upcall.dispose();
  }

  function destroyed(domid: DomId): void {
    const upcall = upcalls.get(domid);
    if (upcall !== undefined) {
      upcalls.delete(domid);
      for (const v of upcall.domain.vcpus) v.removePendingSource(upcall);
      if (upcall.hvm) upcall.domain.hvmParams.events.off('changed', upcall.paramChanged, upcall);
    }
    core.remove(domid);
  }

  const removeHandler = ctx.hypercalls.register('event_channel_op', eventChannelOpHandler(core));
  ctx.container.registerInstance(EventChannelsToken, inCoreApi(core));
  ctx.domains.events.on('created', init);
  ctx.domains.events.on('dying', dying);
  ctx.domains.events.on('destroyed', destroyed);
  for (const d of ctx.domains.list()) if (!core.has(d.domid)) init(d);

  return {
    name: 'event-channel',
    dump: () => core.all().flatMap((t) => dumpTable(t)).join('\n'),
    dispose() {
      removeHandler();
      ctx.domains.events.off('created', init);
      ctx.domains.events.off('dying', dying);
      ctx.domains.events.off('destroyed', destroyed);
      for (const domid of [...upcalls.keys()]) destroyed(domid as DomId);
    },
  };
};
