/** The event-channel contract: the in-core API other subsystems and Dom0 services use, and the HVM interrupt sink. */
import type { InjectionToken } from 'tsyringe';
import type { DomId, EvtchnPort } from '../public/types.js';

/**
 * Where an HVM domain's event-channel callback goes (HVM_PARAM_CALLBACK_IRQ, per-vCPU upcall vectors).
 * The emulated PIC/IO-APIC/LAPIC of HVM guests will implement it; until then the default sink records
 * what it was asked and, for vectors, kicks the vCPU.
 */
export interface HvmIrqSink {
  /** Callback type GSI: the level of guest GSI `gsi` (asserted while vCPU 0 has `evtchn_upcall_pending`). */
  setGsiLevel(gsi: number, high: boolean): void;
  /** Callback type PCI INTx: the level of INTx `pin` (0 = INTA) of device `devfn` on `bus` (normally the Xen platform device). */
  setPciIntxLevel(bus: number, devfn: number, pin: number, high: boolean): void;
  /** Callback type vector or a per-vCPU upcall vector: inject IDT vector `vector` into vCPU `vcpu`. */
  injectVector(vcpu: number, vector: number): void;
}

/** A port's state as `EVTCHNOP_status` reports it. `vcpu` is the vCPU notified. */
export type EvtchnPortStatus =
  | { readonly status: 'closed'; readonly vcpu: number }
  | { readonly status: 'unbound'; readonly vcpu: number; readonly remoteDom: DomId }
  | { readonly status: 'interdomain'; readonly vcpu: number; readonly remoteDom: DomId; readonly remotePort: EvtchnPort }
  | { readonly status: 'pirq'; readonly vcpu: number; readonly pirq: number }
  | { readonly status: 'virq'; readonly vcpu: number; readonly virq: number }
  | { readonly status: 'ipi'; readonly vcpu: number };

/**
 * Event channels (2-level or FIFO ABI, per domain) as the hypervisor and Dom0 services use them. Failures are `GuestError`s
 * with Xen's errno (ESRCH for an unknown domain, EINVAL for a port that is not open...), so a hypercall
 * handler may let them through. Every operation acts as the hypervisor: no privilege check.
 */
export interface EventChannels {
  /** `send_guest_vcpu_virq`: raises the port vCPU `vcpu` bound to VIRQ `virq` (a global VIRQ goes to its bound vCPU). False when none is bound. */
  sendVirq(domid: DomId, vcpu: number, virq: number): boolean;
  /** `send_guest_global_virq`: raises the port bound to global VIRQ `virq` on its notify vCPU. False when none is bound. */
  sendGlobalVirq(domid: DomId, virq: number): boolean;
  /** `send_guest_pirq`: raises the port bound to `pirq`. False when none is bound. */
  sendPirq(domid: DomId, pirq: number): boolean;
  /** `evtchn_send` on `domid`'s `port` (interdomain: raises the peer; IPI: raises itself; unbound: dropped). EINVAL when not open. */
  notify(domid: DomId, port: EvtchnPort): void;
  /** `EVTCHNOP_alloc_unbound` for `domid`: a new port that `remoteDomid` may bind to. ENOSPC past the domain's limit. */
  allocUnbound(domid: DomId, remoteDomid: DomId): EvtchnPort;
  /** `EVTCHNOP_bind_interdomain` for `domid`: connects a new local port to `remoteDomid`'s unbound `remotePort` (offered to `domid`) and sets it pending. */
  bindInterdomain(domid: DomId, remoteDomid: DomId, remotePort: EvtchnPort): EvtchnPort;
  /** `EVTCHNOP_close`: an interdomain peer goes back to unbound. */
  close(domid: DomId, port: EvtchnPort): void;
  /** The port's pending bit (SCHEDOP_poll). False for a port out of range. */
  isPending(domid: DomId, port: EvtchnPort): boolean;
  /** `EVTCHNOP_status` without the privilege check. */
  status(domid: DomId, port: EvtchnPort): EvtchnPortStatus;
  /** Ports open (not closed; port 0 excluded): leak checks. */
  portsInUse(domid: DomId): number;
  /** The highest port the domain may allocate (xl `max_event_channels`; default 1023, Dom0 unlimited); capped at its ABI's limit (4095 for 2-level, 131071 for FIFO). Open ports above it stay open. */
  setMaxPorts(domid: DomId, maxPort: number): void;
  /** Lets the domain bind physical IRQ `pirq` (until PCI passthrough exists, the only way to own one). */
  grantPirq(domid: DomId, pirq: number): void;
  /** HVMOP_set_evtchn_upcall_vector: vCPU `vcpu`'s events go to `vector` (0x10..0xff; EINVAL otherwise, ENOENT for no such vCPU); delivers at once if an upcall is pending. */
  setUpcallVector(domid: DomId, vcpu: number, vector: number): void;
  /** Where the domain's HVM callbacks go; `null` restores the default recording sink. Lines asserted on the old sink are moved to the new one. */
  setHvmIrqSink(domid: DomId, sink: HvmIrqSink | null): void;
  /** The sink in use. */
  hvmIrqSink(domid: DomId): HvmIrqSink;
  /** Re-evaluates the GSI/INTx callback line after the guest cleared vCPU 0's upcall_pending (Xen's hvm_maybe_deassert_evtchn_irq; an EOI path calls it). */
  updateCallbackIrq(domid: DomId): void;
  /**
   * SCHEDOP_poll support: until the returned function is called or one fires, vCPU `vcpu` is kicked
   * when one of `ports` becomes pending, masked or not (Xen's evtchn_check_pollers). One set per vCPU.
   * The list is kept as given: the caller must not change it while the poll lasts.
   */
  pollPorts(domid: DomId, vcpu: number, ports: readonly EvtchnPort[]): () => void;
  /**
   * For an in-process Dom0 service: calls `fn` synchronously every time `domid`'s `port` is set pending
   * (a peer's notify, a VIRQ...), whether or not it was pending already. Stops when the returned function
   * is called or the port is closed. EINVAL when the port is not open, ESRCH for an unknown domain.
   */
  onEvent(domid: DomId, port: EvtchnPort, fn: () => void): () => void;
}
export const EventChannels = Symbol.for('xenoserver:EventChannels') as InjectionToken<EventChannels>;
