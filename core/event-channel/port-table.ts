/** One domain's event channels: the port table (Xen's `struct evtchn` array as typed arrays), VIRQ/PIRQ bindings, pollers. */
import type { Domain, SharedInfoPage } from '../api/domain.js';
import { EVTCHN_2L_NR_CHANNELS, NR_VIRQS } from '../public/event-channel.js';
import type { UpcallDelivery } from './upcall.js';

/** Xen's `ECS_*` channel states (internal; the guest sees EVTCHNSTAT_*). */
export const ECS = {
  FREE: 0,
  /** Port 0: never allocated. */
  RESERVED: 1,
  UNBOUND: 2,
  INTERDOMAIN: 3,
  PIRQ: 4,
  VIRQ: 5,
  IPI: 6,
} as const;

/**
 * The channels of one domain. `state[p]` is the ECS_* of port p; `remoteDom[p]` the domain offered to
 * (unbound) or connected to (interdomain); `remotePort[p]` and `peer[p]` the other end of an interdomain
 * channel; `bound[p]` the VIRQ or PIRQ; `notifyVcpu[p]` the vCPU that gets the upcall.
 */
export class PortTable {
  readonly state = new Uint8Array(EVTCHN_2L_NR_CHANNELS);
  readonly notifyVcpu = new Uint32Array(EVTCHN_2L_NR_CHANNELS);
  readonly remoteDom = new Uint16Array(EVTCHN_2L_NR_CHANNELS);
  readonly remotePort = new Uint16Array(EVTCHN_2L_NR_CHANNELS);
  readonly bound = new Uint32Array(EVTCHN_2L_NR_CHANNELS);
  readonly peer: (PortTable | undefined)[] = new Array<PortTable | undefined>(EVTCHN_2L_NR_CHANNELS).fill(undefined);
  /** `virqToPort[vcpu * NR_VIRQS + virq]`: Xen's `v->virq_to_evtchn`. */
  readonly virqToPort: Uint16Array;
  readonly pirqToPort = new Map<number, number>();
  /** PIRQs the domain may bind (no passthrough yet: granted through the in-core API). */
  readonly grantedPirqs = new Set<number>();
  /** vCPU → ports a SCHEDOP_poll waits on. */
  readonly pollers = new Map<number, readonly number[]>();
  /** The shared-info page's bytes: the pending bitmap at 2048, the mask bitmap at 2560. */
  readonly bytes: Uint8Array;
  /** Xen's `max_evtchn_port`: the highest port that may be allocated. */
  maxPort: number;
  /** Ports below this are valid (it only grows, like Xen's `valid_evtchns`). */
  validPorts: number;
  inUse = 0;
  /** Set on `dying`: no new port may be allocated. */
  dying = false;

  constructor(
    readonly domain: Domain,
    readonly shared: SharedInfoPage,
    readonly upcall: UpcallDelivery,
    maxPort: number,
  ) {
    this.bytes = shared.bytes;
    this.virqToPort = new Uint16Array(domain.vcpus.length * NR_VIRQS);
    this.state[0] = ECS.RESERVED;
    this.maxPort = Math.min(maxPort, EVTCHN_2L_NR_CHANNELS - 1);
    this.validPorts = this.maxPort + 1;
  }

  get domid(): number {
    return this.domain.domid;
  }

  /** Xen's `port_is_valid`. */
  isValid(port: number): boolean {
    return port >= 0 && port < this.validPorts && (port | 0) === port;
  }

  /** Xen's `get_free_port`: the lowest free port ≤ maxPort, not yet taken (the caller fills it in). −1 when none. */
  freePort(): number {
    const max = this.maxPort;
    const state = this.state;
    for (let p = 1; p <= max; p++) if (state[p] === ECS.FREE) return p;
    return -1;
  }

  setMaxPort(maxPort: number): void {
    this.maxPort = Math.max(0, Math.min(maxPort, EVTCHN_2L_NR_CHANNELS - 1));
    if (this.maxPort + 1 > this.validPorts) this.validPorts = this.maxPort + 1;
  }

  /** Takes a free port into `state` for vCPU `vcpu`. */
  take(port: number, state: number, vcpu: number): void {
    this.state[port] = state;
    this.notifyVcpu[port] = vcpu;
    this.inUse++;
  }

  /** Xen's `evtchn_free` minus clearing the pending bit (the ABI's job). */
  release(port: number): void {
    this.state[port] = ECS.FREE;
    this.notifyVcpu[port] = 0;
    this.remoteDom[port] = 0;
    this.remotePort[port] = 0;
    this.bound[port] = 0;
    this.peer[port] = undefined;
    this.inUse--;
  }
}
