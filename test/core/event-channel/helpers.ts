/** Test helpers: a real host, EVTCHNOP calls through the dispatcher with the op struct in guest memory, shared-info readers. */
import { bootTestHost, vcpuOf, type TestGuest } from '../../hypervisor/harness.js';
import type { Host } from '../../../core/host/host.js';
import { EventChannels, type EventChannels as EventChannelsApi } from '../../../core/api/event-channel.js';
import {
  EVTCHNOP,
  EvtchnAllocUnbound,
  EvtchnBindInterdomain,
  EvtchnBindIpi,
  EvtchnBindPirq,
  EvtchnBindVcpu,
  EvtchnBindVirq,
  EvtchnStatus,
  Hypercall,
  SharedInfo,
  VcpuInfo,
} from '../../../core/public/index.js';

/** Where op structs go in the caller's (guest-physical) memory. */
export const SCRATCH = 0x10000;

export async function bootHost(guests: TestGuest[] = [{ name: 'a' }, { name: 'b' }], cpus = 2): Promise<Host> {
  const { host } = await bootTestHost({ cpus, guests });
  return host;
}

export function evtchnApi(host: Host): EventChannelsApi {
  return host.container.resolve(EventChannels);
}

/** Runs EVTCHNOP `cmd` from `domid`'s vCPU with `bytes` as the op struct; returns the result and the struct as it is afterwards. */
export function evtchnOp(host: Host, domid: number, cmd: number, bytes: Uint8Array, vcpu = 0, addr = SCRATCH): { rc: number; out: DataView } {
  const v = vcpuOf(host, domid, vcpu);
  v.guest.write(addr, bytes);
  const rc = host.dispatcher.dispatch(v, Hypercall.event_channel_op, [cmd, addr, 0, 0, 0]);
  const out = v.guest.read(addr, bytes.length);
  return { rc, out: new DataView(out.buffer, out.byteOffset, out.byteLength) };
}

function struct(size: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

/** Result ≥ 0: the port; else −errno. */
export function allocUnbound(host: Host, caller: number, dom: number, remoteDom: number): number {
  const { rc, out } = evtchnOp(host, caller, EVTCHNOP.alloc_unbound, struct(EvtchnAllocUnbound.size, (v) => {
    v.setUint16(EvtchnAllocUnbound.dom, dom, true);
    v.setUint16(EvtchnAllocUnbound.remoteDom, remoteDom, true);
  }));
  return rc < 0 ? rc : out.getUint32(EvtchnAllocUnbound.port, true);
}

export function bindInterdomain(host: Host, caller: number, remoteDom: number, remotePort: number): number {
  const { rc, out } = evtchnOp(host, caller, EVTCHNOP.bind_interdomain, struct(EvtchnBindInterdomain.size, (v) => {
    v.setUint16(EvtchnBindInterdomain.remoteDom, remoteDom, true);
    v.setUint32(EvtchnBindInterdomain.remotePort, remotePort, true);
  }));
  return rc < 0 ? rc : out.getUint32(EvtchnBindInterdomain.localPort, true);
}

export function bindVirq(host: Host, caller: number, virq: number, vcpu: number): number {
  const { rc, out } = evtchnOp(host, caller, EVTCHNOP.bind_virq, struct(EvtchnBindVirq.size, (v) => {
    v.setUint32(EvtchnBindVirq.virq, virq, true);
    v.setUint32(EvtchnBindVirq.vcpu, vcpu, true);
  }));
  return rc < 0 ? rc : out.getUint32(EvtchnBindVirq.port, true);
}

export function bindIpi(host: Host, caller: number, vcpu: number): number {
  const { rc, out } = evtchnOp(host, caller, EVTCHNOP.bind_ipi, struct(EvtchnBindIpi.size, (v) => v.setUint32(EvtchnBindIpi.vcpu, vcpu, true)));
  return rc < 0 ? rc : out.getUint32(EvtchnBindIpi.port, true);
}

export function bindPirq(host: Host, caller: number, pirq: number): number {
  const { rc, out } = evtchnOp(host, caller, EVTCHNOP.bind_pirq, struct(EvtchnBindPirq.size, (v) => v.setUint32(EvtchnBindPirq.pirq, pirq, true)));
  return rc < 0 ? rc : out.getUint32(EvtchnBindPirq.port, true);
}

function portOp(cmd: number) {
  return (host: Host, caller: number, port: number, vcpu = 0): number => evtchnOp(host, caller, cmd, struct(4, (v) => v.setUint32(0, port, true)), vcpu).rc;
}
export const close = portOp(EVTCHNOP.close);
export const send = portOp(EVTCHNOP.send);
export const unmask = portOp(EVTCHNOP.unmask);

export function bindVcpu(host: Host, caller: number, port: number, vcpu: number): number {
  return evtchnOp(host, caller, EVTCHNOP.bind_vcpu, struct(EvtchnBindVcpu.size, (v) => {
    v.setUint32(EvtchnBindVcpu.port, port, true);
    v.setUint32(EvtchnBindVcpu.vcpu, vcpu, true);
  })).rc;
}

export function reset(host: Host, caller: number, dom: number): number {
  return evtchnOp(host, caller, EVTCHNOP.reset, struct(2, (v) => v.setUint16(0, dom, true))).rc;
}

export interface StatusOut {
  rc: number;
  status: number;
  vcpu: number;
  /** The union's first u16 (unbound.dom / interdomain.dom) and its u32s at 16 and 20. */
  dom: number;
  u16: number;
  u20: number;
}

export function status(host: Host, caller: number, dom: number, port: number): StatusOut {
  const { rc, out } = evtchnOp(host, caller, EVTCHNOP.status, struct(EvtchnStatus.size, (v) => {
    v.setUint16(EvtchnStatus.dom, dom, true);
    v.setUint32(EvtchnStatus.port, port, true);
  }));
  return { rc, status: out.getUint32(EvtchnStatus.status, true), vcpu: out.getUint32(EvtchnStatus.vcpu, true), dom: out.getUint16(16, true), u16: out.getUint32(16, true), u20: out.getUint32(20, true) };
}

// --- the shared-info page as the guest sees it ---------------------------------------------------

export function sharedView(host: Host, domid: number): DataView {
  const b = host.sharedInfoOf(domid)!.bytes;
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Word `w` (u64) of the pending bitmap. */
export function pendingWord(host: Host, domid: number, w: number): bigint {
  return sharedView(host, domid).getBigUint64(SharedInfo.evtchnPending + 8 * w, true);
}
export function maskWord(host: Host, domid: number, w: number): bigint {
  return sharedView(host, domid).getBigUint64(SharedInfo.evtchnMask + 8 * w, true);
}
export function isPendingBit(host: Host, domid: number, port: number): boolean {
  return ((pendingWord(host, domid, port >> 6) >> BigInt(port & 63)) & 1n) === 1n;
}
/** As the guest does it: sets or clears the mask bit of `port` in its shared-info page. */
export function setMask(host: Host, domid: number, port: number, masked: boolean): void {
  const b = host.sharedInfoOf(domid)!.bytes;
  const at = SharedInfo.evtchnMask + (port >> 3);
  b[at] = masked ? b[at]! | (1 << (port & 7)) : b[at]! & ~(1 << (port & 7));
}
/** As the guest's upcall handler does: clears a pending bit. */
export function clearPending(host: Host, domid: number, port: number): void {
  const b = host.sharedInfoOf(domid)!.bytes;
  const at = SharedInfo.evtchnPending + (port >> 3);
  b[at] = b[at]! & ~(1 << (port & 7));
}

export function vcpuInfoOf(host: Host, domid: number, vcpu: number): DataView {
  const loc = host.sharedInfoOf(domid)!.vcpuInfo(vcpu);
  return new DataView(loc.bytes.buffer, loc.bytes.byteOffset + loc.offset, VcpuInfo.size);
}
export function pendingSel(host: Host, domid: number, vcpu: number): bigint {
  return vcpuInfoOf(host, domid, vcpu).getBigUint64(VcpuInfo.evtchnPendingSel, true);
}
export function upcallPending(host: Host, domid: number, vcpu: number): number {
  return vcpuInfoOf(host, domid, vcpu).getUint8(VcpuInfo.evtchnUpcallPending);
}
/** As the guest's upcall handler starts: upcall_pending = 0, pending_sel = 0. */
export function ackUpcall(host: Host, domid: number, vcpu: number): void {
  const v = vcpuInfoOf(host, domid, vcpu);
  v.setUint8(VcpuInfo.evtchnUpcallPending, 0);
  v.setBigUint64(VcpuInfo.evtchnPendingSel, 0n, true);
}

/** A copy of everything event-channel-visible of a domain: its shared-info page and every port's status. */
export function snapshot(host: Host, domid: number): { page: string; ports: string } {
  const api = evtchnApi(host);
  const page = Buffer.from(host.sharedInfoOf(domid)!.bytes).toString('hex');
  const ports: string[] = [];
  for (let p = 1; p < 4096; p++) {
    try {
      const s = api.status(domid as never, p as never);
      if (s.status !== 'closed') ports.push(`${p}:${JSON.stringify(s)}`);
    } catch {
      break;
    }
  }
  return { page, ports: `${api.portsInUse(domid as never)}|${ports.join(',')}` };
}
