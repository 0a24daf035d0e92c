/** The 2-level event-channel ABI (Xen's event_2l.c): pending/mask bitmaps in shared_info, a selector word per vCPU. */
import { EVTCHN_2L_NR_CHANNELS } from '../public/event-channel.js';
import { SharedInfo, VcpuInfo } from '../public/shared-info.js';
import type { PortTable } from './port-table.js';

/** An event-channel ABI, as Xen's `struct evtchn_port_ops`. Ports given are valid. */
export interface EvtchnPortOps {
  readonly name: string;
  /** Xen's `max_evtchns(d)` under this ABI. */
  readonly nrChannels: number;
  /** Raises `port`, notifying vCPU `vcpu` when it was not already pending and is unmasked. */
  setPending(t: PortTable, vcpu: number, port: number): void;
  clearPending(t: PortTable, port: number): void;
  /** Clears the mask; delivers when the port is pending. */
  unmask(t: PortTable, port: number): void;
  isPending(t: PortTable, port: number): boolean;
  isMasked(t: PortTable, port: number): boolean;
  /** The ABI still holds the port (FIFO: LINKED on a queue), so it may not be reused yet. */
  isBusy(t: PortTable, port: number): boolean;
  /** EVTCHNOP_set_priority; absent (ENOSYS) under 2-level. */
  setPriority?(t: PortTable, port: number, priority: number): void;
}

const PENDING = SharedInfo.evtchnPending;
const MASK = SharedInfo.evtchnMask;
const SEL = VcpuInfo.evtchnPendingSel;

/**
 * The bitmaps are little-endian u64 words, so bit p of the bitmap is bit p&7 of byte p>>3 and the
 * selector bit of word w is bit w&7 of byte w>>3 of `evtchn_pending_sel`: byte operations give exactly
 * Xen's bits with no allocation.
 */
function setSelector(t: PortTable, vcpu: number, port: number): void {
  const loc = t.shared.vcpuInfo(vcpu);
  const word = port >> 6;
  const at = loc.offset + SEL + (word >> 3);
  const bit = 1 << (word & 7);
  const bytes = loc.bytes;
  if ((bytes[at]! & bit) !== 0) return;
  bytes[at] = bytes[at]! | bit;
  t.upcall.markEventsPending(vcpu);
}

/** The 2-level ABI: up to 4096 ports on 64-bit guests. Ports past them (left valid by a FIFO domain's EVTCHNOP_reset) have no bits. */
export const evtchn2l: EvtchnPortOps = {
  name: '2-level',
  nrChannels: EVTCHN_2L_NR_CHANNELS,

  setPending(t, vcpu, port) {
    if (port >= EVTCHN_2L_NR_CHANNELS) return;
    const bytes = t.bytes;
    const at = port >> 3;
    const bit = 1 << (port & 7);
    if ((bytes[PENDING + at]! & bit) !== 0) return;
    bytes[PENDING + at] = bytes[PENDING + at]! | bit;
    if ((bytes[MASK + at]! & bit) === 0) setSelector(t, vcpu, port);
    if (t.pollerCount !== 0) checkPollers(t, port);
  },

  clearPending(t, port) {
    if (port >= EVTCHN_2L_NR_CHANNELS) return;
    const at = PENDING + (port >> 3);
    t.bytes[at] = t.bytes[at]! & ~(1 << (port & 7));
  },

  unmask(t, port) {
    if (port >= EVTCHN_2L_NR_CHANNELS) return;
    const bytes = t.bytes;
    const at = port >> 3;
    const bit = 1 << (port & 7);
    if ((bytes[MASK + at]! & bit) === 0) return;
    bytes[MASK + at] = bytes[MASK + at]! & ~bit;
    if ((bytes[PENDING + at]! & bit) !== 0) setSelector(t, t.notifyVcpu[port]!, port);
  },

  isPending(t, port) {
    return port < EVTCHN_2L_NR_CHANNELS && (t.bytes[PENDING + (port >> 3)]! & (1 << (port & 7))) !== 0;
  },

  isMasked(t, port) {
    return port >= EVTCHN_2L_NR_CHANNELS || (t.bytes[MASK + (port >> 3)]! & (1 << (port & 7))) !== 0;
  },

  isBusy: () => false,
};

/** Xen's `evtchn_check_pollers`: a vCPU polling `port` is woken (and stops polling). */
export function checkPollers(t: PortTable, port: number): void {
  const pollers = t.pollers;
  if (pollers === undefined) return;
  for (let vcpu = 0; vcpu < pollers.length; vcpu++) {
    const ports = pollers[vcpu];
    if (ports === undefined || !ports.includes(port)) continue;
    pollers[vcpu] = undefined;
    t.pollerCount--;
    t.domain.vcpus[vcpu]?.kick();
  }
}
