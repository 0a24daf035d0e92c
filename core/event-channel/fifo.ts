/**
 * The FIFO event-channel ABI (Xen 4.17's event_fifo.c): an event word per port in guest-provided array pages,
 * a control block per vCPU holding the head of 16 priority queues and the READY bitmap; Xen links pending,
 * unmasked events at the tail of the queue of the port's vCPU and priority.
 */
import { GuestError } from '../api/errors.js';
import {
  EVTCHN_FIFO_BUSY,
  EVTCHN_FIFO_EVENT_WORDS_PER_PAGE,
  EVTCHN_FIFO_LINKED,
  EVTCHN_FIFO_LINK_BITS,
  EVTCHN_FIFO_LINK_MASK,
  EVTCHN_FIFO_MASKED,
  EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES,
  EVTCHN_FIFO_MAX_QUEUES,
  EVTCHN_FIFO_NR_CHANNELS,
  EVTCHN_FIFO_PENDING,
  EVTCHN_FIFO_PRIORITY_MIN,
  EvtchnFifoControlBlock,
} from '../public/event-channel.js';
import { PAGE_SIZE } from '../public/memory.js';
import type { PortTable } from './port-table.js';
import { checkPollers, evtchn2l, type EvtchnPortOps } from './two-level.js';

const PENDING = 1 << EVTCHN_FIFO_PENDING;
const MASKED = 1 << EVTCHN_FIFO_MASKED;
const LINKED = 1 << EVTCHN_FIFO_LINKED;
const BUSY = 1 << EVTCHN_FIFO_BUSY;
const PAGE_SHIFT = 10;
const WORD_INDEX = EVTCHN_FIFO_EVENT_WORDS_PER_PAGE - 1;
const READY = EvtchnFifoControlBlock.ready / 4;
const HEAD = EvtchnFifoControlBlock.head / 4;

/** A guest frame as Xen maps it for the hypervisor's use: its 1024 u32 words. Fails with EINVAL (Xen's `map_guest_page`). */
export type MapGuestFrame = (t: PortTable, gfn: number) => Uint32Array;

/** Xen's `struct evtchn_fifo_vcpu`: the mapped control block (words of its frame from `base`) and each queue's tail. */
export class FifoVcpu {
  control: Uint32Array | undefined;
  base = 0;
  readonly tails = new Uint32Array(EVTCHN_FIFO_MAX_QUEUES);
}

/** Xen's `struct evtchn_fifo_domain` plus the per-vCPU state. */
export class FifoDomain {
  /** Event-array pages, 1024 event words each. */
  readonly pages: Uint32Array[] = [];
  /** Ports covered by the pages (Xen's `num_evtchns`). */
  numEvtchns = 0;
  readonly vcpus: FifoVcpu[];

  constructor(nrVcpus: number) {
    this.vcpus = Array.from({ length: nrVcpus }, () => new FifoVcpu());
  }
}

function einval(t: PortTable, detail: string): GuestError {
  return new GuestError('EINVAL', `evtchn: ${detail}`, { domid: t.domid });
}

/** Xen's `evtchn_fifo_word_from_port`: the page holding `port`'s event word, or undefined when no page covers it yet. */
function pageOf(t: PortTable, port: number): Uint32Array | undefined {
  const f = t.fifo!;
  return port < f.numEvtchns ? f.pages[port >> PAGE_SHIFT] : undefined;
}

/** Xen's `evtchn_fifo_set_link`: points a still-LINKED tail at `port` (dropping BUSY); false when the guest already unlinked it. */
function setLink(t: PortTable, tail: number, port: number): boolean {
  const page = pageOf(t, tail)!;
  const i = tail & WORD_INDEX;
  const w = page[i]!;
  if ((w & LINKED) === 0) return false;
  page[i] = (w & ~(BUSY | EVTCHN_FIFO_LINK_MASK)) | port;
  return true;
}

/** Xen's `evtchn_fifo_set_pending`. */
function setPending(t: PortTable, vcpu: number, port: number): void {
  const fp = t.fifoPort!;
  const page = pageOf(t, port);
  if (page === undefined) {
    // No event word yet: remembered, and raised when expand_array adds the page.
    fp.pending[port] = 1;
    return;
  }
  const i = port & WORD_INDEX;
  const wasPending = (page[i]! & PENDING) !== 0;
  page[i] = page[i]! | PENDING;
  const v = t.fifo!.vcpus[vcpu]!;
  // Without a control block the event stays pending only: the guest may not unmask before init_control.
  if (v.control !== undefined) {
    const priority = fp.priority[port]!;
    let linked = true;
    const w = page[i]!;
    if ((w & MASKED) === 0 && (w & LINKED) === 0) {
      page[i] = w | LINKED;
      const oldV = t.fifo!.vcpus[fp.lastVcpu[port]!]!;
      const oldPriority = fp.lastPriority[port]!;
      // It was the old queue's tail: that queue is empty now, and must not link to this port.
      if (oldV.tails[oldPriority] === port) oldV.tails[oldPriority] = 0;
      if (oldV !== v || oldPriority !== priority) {
        fp.lastVcpu[port] = vcpu;
        fp.lastPriority[port] = priority;
      }
      const tail = v.tails[priority]!;
      linked = tail !== 0 && setLink(t, tail, port);
      if (!linked) v.control[v.base + HEAD + priority] = port;
      v.tails[priority] = port;
    }
    if (!linked) {
      const ready = v.control[v.base + READY]!;
      const bit = 1 << priority;
      if ((ready & bit) === 0) {
        v.control[v.base + READY] = ready | bit;
        t.upcall.markEventsPending(vcpu);
      }
    }
  }
  if (!wasPending && t.pollerCount !== 0) checkPollers(t, port);
}

/** The FIFO ABI: up to 2^17 ports, as many as the event-array pages cover. */
export const evtchnFifo: EvtchnPortOps = {
  name: 'FIFO',
  nrChannels: EVTCHN_FIFO_NR_CHANNELS,

  setPending,

  /** Clears PENDING only: the guest unlinks events it finds not pending. */
  clearPending(t, port) {
    t.fifoPort!.pending[port] = 0;
    const page = pageOf(t, port);
    if (page !== undefined) page[port & WORD_INDEX] = page[port & WORD_INDEX]! & ~PENDING;
  },

  unmask(t, port) {
    const page = pageOf(t, port);
    if (page === undefined) return;
    const i = port & WORD_INDEX;
    page[i] = page[i]! & ~MASKED;
    if ((page[i]! & PENDING) !== 0) setPending(t, t.notifyVcpu[port]!, port);
  },

  isPending(t, port) {
    const page = pageOf(t, port);
    return page !== undefined && (page[port & WORD_INDEX]! & PENDING) !== 0;
  },

  isMasked(t, port) {
    const page = pageOf(t, port);
    return page === undefined || (page[port & WORD_INDEX]! & MASKED) !== 0;
  },

  isBusy(t, port) {
    const page = pageOf(t, port);
    return page !== undefined && (page[port & WORD_INDEX]! & LINKED) !== 0;
  },

  /** Takes effect for the port's next event; one already linked stays on its queue. */
  setPriority(t, port, priority) {
    if (!(priority >= 0 && priority <= EVTCHN_FIFO_PRIORITY_MIN)) throw einval(t, `priority ${priority} is not 0..${EVTCHN_FIFO_PRIORITY_MIN}`);
    t.fifoPort!.priority[port] = priority;
  },
};

/** Xen's `map_control_block`: EINVAL when the vCPU has one. */
function mapControlBlock(t: PortTable, map: MapGuestFrame, vcpu: number, gfn: number, offset: number): void {
  const v = t.fifo!.vcpus[vcpu]!;
  if (v.control !== undefined) throw einval(t, `vcpu${vcpu} of dom${t.domid} already has a FIFO control block`);
  v.control = map(t, gfn);
  v.base = offset / 4;
}

/** Xen's `evtchn_fifo_destroy`: back to no FIFO state and the 2-level ops (EVTCHNOP_reset, domain teardown). */
export function fifoDestroy(t: PortTable): void {
  if (t.fifo === undefined) return;
  t.fifo = undefined;
  t.ops = evtchn2l;
  t.setFifoPorts(false);
}

/**
 * EVTCHNOP_init_control (Xen's `evtchn_fifo_init_control`): maps vCPU `vcpu`'s control block at `offset` in
 * frame `gfn`. The first call switches the domain to FIFO: ports already open keep their bindings, their
 * 2-level pending bits are remembered (raised once an array page covers them), and the port limit becomes 2^17.
 * Returns link_bits.
 */
export function fifoInitControl(t: PortTable, map: MapGuestFrame, vcpu: number, gfn: number, offset: number): number {
  if (!(vcpu >= 0 && vcpu < t.domain.vcpus.length)) throw new GuestError('ENOENT', `evtchn: dom${t.domid} has no vcpu${vcpu}`, { domid: t.domid });
  if (offset > PAGE_SIZE - EvtchnFifoControlBlock.size) throw einval(t, `control block offset ${offset} crosses the page`);
  if ((offset & 7) !== 0) throw einval(t, `control block offset ${offset} is not 8-byte aligned`);
  if (t.fifo !== undefined) {
    mapControlBlock(t, map, vcpu, gfn, offset);
    return EVTCHN_FIFO_LINK_BITS;
  }
  const prevPorts = Math.min(t.abiPorts, t.validPorts);
  t.fifo = new FifoDomain(t.domain.vcpus.length);
  try {
    mapControlBlock(t, map, vcpu, gfn, offset);
  } catch (e) {
    t.fifo = undefined;
    throw e;
  }
  // Xen's setup_ports: every valid port keeps its pending state and gets the default priority.
  const pending2l = new Array<boolean>(prevPorts);
  for (let port = 1; port < prevPorts; port++) pending2l[port] = evtchn2l.isPending(t, port);
  t.ops = evtchnFifo;
  t.setFifoPorts(true);
  for (let port = 1; port < prevPorts; port++) if (pending2l[port]) t.fifoPort!.pending[port] = 1;
  t.grow();
  return EVTCHN_FIFO_LINK_BITS;
}

/** EVTCHNOP_expand_array (Xen's `evtchn_fifo_expand_array`): the next 1024 event words; events raised while they were missing are raised now. */
export function fifoExpandArray(t: PortTable, map: MapGuestFrame, gfn: number): void {
  const f = t.fifo;
  if (f === undefined) throw new GuestError('EOPNOTSUPP', `evtchn: dom${t.domid} uses the 2-level ABI (EVTCHNOP_init_control first)`, { domid: t.domid });
  if (f.pages.length >= EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES) throw new GuestError('ENOSPC', `evtchn: dom${t.domid} has all ${EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES} event-array pages`, { domid: t.domid });
  const page = map(t, gfn);
  const first = f.numEvtchns;
  f.pages.push(page);
  f.numEvtchns += EVTCHN_FIFO_EVENT_WORDS_PER_PAGE;
  const fp = t.fifoPort!;
  for (let port = first; port < f.numEvtchns && t.isValid(port); port++) {
    if (fp.pending[port] === 0) continue;
    fp.pending[port] = 0;
    setPending(t, t.notifyVcpu[port]!, port);
  }
}

/** Debug: `Q3 P M L→17 B` for a port's event word; `?` when no page covers it. */
export function fifoDescribe(t: PortTable, port: number): string {
  const page = pageOf(t, port);
  if (page === undefined) return t.fifoPort!.pending[port] ? '? (pending)' : '?';
  const w = page[port & WORD_INDEX]!;
  const flags = `${w & PENDING ? ' P' : ''}${w & MASKED ? ' M' : ''}${w & LINKED ? ` L→${w & EVTCHN_FIFO_LINK_MASK}` : ''}${w & BUSY ? ' B' : ''}`;
  return `q${t.fifoPort!.priority[port]}${flags}`;
}
