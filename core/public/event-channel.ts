/** Event-channel ABI: EVTCHNOP numbers, op-struct layouts, EVTCHNSTAT, VIRQs (xen/include/public/event_channel.h, xen.h; Xen 4.17). */

/** `EVTCHNOP_*`: argument 0 of HYPERVISOR_event_channel_op (hypercall 32); argument 1 points to the op struct. */
export const EVTCHNOP = {
  bind_interdomain: 0,
  bind_virq: 1,
  bind_pirq: 2,
  close: 3,
  send: 4,
  status: 5,
  alloc_unbound: 6,
  bind_ipi: 7,
  bind_vcpu: 8,
  unmask: 9,
  reset: 10,
  /** FIFO ABI only. */
  init_control: 11,
  /** FIFO ABI only. */
  expand_array: 12,
  /** FIFO ABI only. */
  set_priority: 13,
} as const;
export type EvtchnOpName = keyof typeof EVTCHNOP;

/** `struct evtchn_alloc_unbound` (8 bytes). IN dom (u16, DOMID_SELF allowed), IN remote_dom (u16); OUT port (u32). */
export const EvtchnAllocUnbound = { size: 8, dom: 0, remoteDom: 2, port: 4 } as const;
/** `struct evtchn_bind_interdomain` (12 bytes). IN remote_dom (u16), IN remote_port (u32); OUT local_port (u32). */
export const EvtchnBindInterdomain = { size: 12, remoteDom: 0, remotePort: 4, localPort: 8 } as const;
/** `struct evtchn_bind_virq` (12 bytes). IN virq (u32), IN vcpu (u32); OUT port (u32). */
export const EvtchnBindVirq = { size: 12, virq: 0, vcpu: 4, port: 8 } as const;
/** `struct evtchn_bind_pirq` (12 bytes). IN pirq (u32), IN flags (u32, BIND_PIRQ__*); OUT port (u32). */
export const EvtchnBindPirq = { size: 12, pirq: 0, flags: 4, port: 8 } as const;
/** `BIND_PIRQ__WILL_SHARE`: the guest accepts sharing the physical IRQ. */
export const BIND_PIRQ__WILL_SHARE = 1;
/** `struct evtchn_bind_ipi` (8 bytes). IN vcpu (u32); OUT port (u32). */
export const EvtchnBindIpi = { size: 8, vcpu: 0, port: 4 } as const;
/** `struct evtchn_close` (4 bytes). IN port (u32). */
export const EvtchnClose = { size: 4, port: 0 } as const;
/** `struct evtchn_send` (4 bytes). IN port (u32). */
export const EvtchnSend = { size: 4, port: 0 } as const;
/**
 * `struct evtchn_status` (24 bytes). IN dom (u16), IN port (u32); OUT status (u32, EVTCHNSTAT_*),
 * OUT vcpu (u32), OUT union at 16: unbound.dom (u16) | interdomain.dom (u16) + interdomain.port (u32 @20) | pirq (u32) | virq (u32).
 */
export const EvtchnStatus = { size: 24, dom: 0, port: 4, status: 8, vcpu: 12, unboundDom: 16, interdomainDom: 16, interdomainPort: 20, pirq: 16, virq: 16 } as const;
/** `struct evtchn_bind_vcpu` (8 bytes). IN port (u32), IN vcpu (u32). */
export const EvtchnBindVcpu = { size: 8, port: 0, vcpu: 4 } as const;
/** `struct evtchn_unmask` (4 bytes). IN port (u32). */
export const EvtchnUnmask = { size: 4, port: 0 } as const;
/** `struct evtchn_reset` (2 bytes). IN dom (u16, DOMID_SELF allowed). */
export const EvtchnReset = { size: 2, dom: 0 } as const;

/**
 * `struct evtchn_init_control` (24 bytes). IN control_gfn (u64: a gfn, an MFN for PV), IN offset (u32, of the
 * control block in that frame: 8-byte aligned, not crossing the page), IN vcpu (u32); OUT link_bits (u8).
 */
export const EvtchnInitControl = { size: 24, controlGfn: 0, offset: 8, vcpu: 12, linkBits: 16 } as const;
/** `struct evtchn_expand_array` (8 bytes). IN array_gfn (u64): the next page of the event array. */
export const EvtchnExpandArray = { size: 8, arrayGfn: 0 } as const;
/** `struct evtchn_set_priority` (8 bytes). IN port (u32), IN priority (u32, 0 highest .. 15). */
export const EvtchnSetPriority = { size: 8, port: 0, priority: 4 } as const;

/** `EVTCHN_FIFO_PRIORITY_*`: 0 is the highest; new ports get the default. */
export const EVTCHN_FIFO_PRIORITY_MAX = 0;
export const EVTCHN_FIFO_PRIORITY_DEFAULT = 7;
export const EVTCHN_FIFO_PRIORITY_MIN = 15;
/** One queue per priority per vCPU. */
export const EVTCHN_FIFO_MAX_QUEUES = EVTCHN_FIFO_PRIORITY_MIN + 1;
/** `EVTCHN_FIFO_LINK_BITS`: what init_control returns in link_bits. */
export const EVTCHN_FIFO_LINK_BITS = 17;
export const EVTCHN_FIFO_LINK_MASK = (1 << EVTCHN_FIFO_LINK_BITS) - 1;
/** `EVTCHN_FIFO_NR_CHANNELS`: 2^17 ports. */
export const EVTCHN_FIFO_NR_CHANNELS = 1 << EVTCHN_FIFO_LINK_BITS;
/** Bits of an event word (`event_word_t`, u32): PENDING 31, MASKED 30, LINKED 29, BUSY 28; LINK (the next port) in bits 0..16. */
export const EVTCHN_FIFO_PENDING = 31;
export const EVTCHN_FIFO_MASKED = 30;
export const EVTCHN_FIFO_LINKED = 29;
export const EVTCHN_FIFO_BUSY = 28;
/** Event words per event-array page (4096 / 4). */
export const EVTCHN_FIFO_EVENT_WORDS_PER_PAGE = 1024;
/** Event-array pages a domain may add: 2^17 / 1024. */
export const EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES = EVTCHN_FIFO_NR_CHANNELS / EVTCHN_FIFO_EVENT_WORDS_PER_PAGE;
/**
 * `struct evtchn_fifo_control_block` (72 bytes), one per vCPU in a guest frame. OUT ready (u32 @0: bit q set
 * by Xen when queue q became non-empty; the guest clears it), _rsvd (u32 @4), head[16] (u32 @8: the first
 * port of each queue, written by Xen when it links to an empty queue; the guest advances it).
 */
export const EvtchnFifoControlBlock = { size: 72, ready: 0, head: 8 } as const;

/** `EVTCHNSTAT_*`: the state `EVTCHNOP_status` reports. */
export const EVTCHNSTAT = {
  closed: 0,
  unbound: 1,
  interdomain: 2,
  pirq: 3,
  virq: 4,
  ipi: 5,
} as const;
export type EvtchnStatName = keyof typeof EVTCHNSTAT;

/** `EVTCHN_2L_NR_CHANNELS` on 64-bit guests: 64 words × 64 bits. */
export const EVTCHN_2L_NR_CHANNELS = 4096;
/** Bits in one word of the 2-level bitmaps and of `evtchn_pending_sel` (`BITS_PER_EVTCHN_WORD`, 64-bit). */
export const BITS_PER_EVTCHN_WORD = 64;
/** xl's `max_event_channels` default, i.e. the highest port a domU may allocate. */
export const DEFAULT_MAX_EVTCHN_PORT = 1023;

/** `VIRQ_*` (xen.h; x86 `VIRQ_MCA` = ARCH_0). "V" ones are per vCPU, the others global (bound on vCPU 0). */
export const VIRQ = {
  /** V. Timebase update and/or requested timeout. */
  TIMER: 0,
  /** V. Request to dump debug info. */
  DEBUG: 1,
  /** G. (Dom0) bytes received on the emergency console. */
  CONSOLE: 2,
  /** G. (Dom0) exceptional event for some domain. */
  DOM_EXC: 3,
  /** G. (Dom0) trace buffer has records. */
  TBUF: 4,
  /** G. (Dom0) a domain has paused for debugging. */
  DEBUGGER: 6,
  /** V. XenOprofile sample available. */
  XENOPROF: 7,
  /** G. (Dom0) bytes received on the console ring. */
  CON_RING: 8,
  /** G. (Dom0) pCPU state changed. */
  PCPU_STATE: 9,
  /** G. (Dom0) a memory event occurred. */
  MEM_EVENT: 10,
  /** G. Argo interdomain message notification. */
  ARGO: 11,
  /** G. (Dom0) low on heap memory. */
  ENOMEM: 12,
  /** V. PMC interrupt. */
  XENPMU: 13,
  ARCH_0: 16,
  ARCH_1: 17,
  ARCH_2: 18,
  ARCH_3: 19,
  ARCH_4: 20,
  ARCH_5: 21,
  ARCH_6: 22,
  ARCH_7: 23,
  /** x86: machine-check notification (= ARCH_0, global). */
  MCA: 16,
} as const;
export type VirqName = keyof typeof VIRQ;
export const NR_VIRQS = 24;
/** The per-vCPU VIRQs (Xen's `virq_is_global` returns false for these; every x86 arch VIRQ is global). */
export const VIRQS_PER_VCPU: readonly number[] = [VIRQ.TIMER, VIRQ.DEBUG, VIRQ.XENOPROF, VIRQ.XENPMU];
