/** One domain's event channels: the port table (Xen's `struct evtchn` array as typed arrays), VIRQ/PIRQ bindings, pollers. */
import type { Domain, SharedInfoPage } from '../api/domain.js';
import { EVTCHN_FIFO_PRIORITY_DEFAULT, NR_VIRQS } from '../public/event-channel.js';
import type { FifoDomain } from './fifo.js';
import { evtchn2l, type EvtchnPortOps } from './two-level.js';
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

/** Ports become valid this many at a time as they are allocated (Xen's EVTCHNS_PER_BUCKET on 64-bit). */
const EVTCHNS_PER_BUCKET = 64;

function grown<T extends Uint8Array | Uint16Array | Uint32Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

/** The per-port arrays (and the VIRQ table) of `ports` ports and `virqSlots` VIRQ slots, as views of one buffer. */
interface PortArrays {
  virqToPort: Uint32Array;
  remotePort: Uint32Array;
  notifyVcpu: Uint32Array;
  bound: Uint32Array;
  remoteDom: Uint16Array;
  state: Uint8Array;
}

/**
 * Lays the arrays out in one ArrayBuffer (u32 arrays first, then u16, then u8): each buffer costs a
 * JS object and an allocation of its own besides its bytes, and every domain has a port table.
 */
function portArrays(ports: number, virqSlots: number): PortArrays {
  const buffer = new ArrayBuffer(4 * virqSlots + 15 * ports);
  let at = 0;
  const u32 = (n: number): Uint32Array => {
    const a = new Uint32Array(buffer, at, n);
    at += 4 * n;
    return a;
  };
  const virqToPort = u32(virqSlots);
  const remotePort = u32(ports);
  const notifyVcpu = u32(ports);
  const bound = u32(ports);
  const remoteDom = new Uint16Array(buffer, at, ports);
  const state = new Uint8Array(buffer, at + 2 * ports, ports);
  return { virqToPort, remotePort, notifyVcpu, bound, remoteDom, state };
}

/**
 * The channels of one domain. `state[p]` is the ECS_* of port p; `remoteDom[p]` the domain offered to
 * (unbound) or connected to (interdomain); `remotePort[p]` and `peer[p]` the other end of an interdomain
 * channel; `bound[p]` the VIRQ or PIRQ; `notifyVcpu[p]` the vCPU that gets the upcall. The arrays hold
 * `validPorts` entries and grow with it as ports are allocated (Xen's buckets), so a domain pays for the ports it uses.
 */
export class PortTable {
  state: Uint8Array;
  notifyVcpu: Uint32Array;
  remoteDom: Uint16Array;
  remotePort: Uint32Array;
  bound: Uint32Array;
  peer: (PortTable | undefined)[];
  /** FIFO only (null under 2-level): Xen's `evtchn->priority`, `evtchn->pending` (raised while no event word covered the port) and `fifo_lastq`. */
  fifoPort: { priority: Uint8Array; pending: Uint8Array; lastVcpu: Uint32Array; lastPriority: Uint8Array } | null = null;
  /** `virqToPort[vcpu * NR_VIRQS + virq]`: Xen's `v->virq_to_evtchn`. */
  virqToPort: Uint32Array;
  /** By vCPU: the ports a SCHEDOP_poll waits on (Xen's poll_mask with each vCPU's ports); made by the first poll. */
  pollers: (readonly number[] | undefined)[] | undefined;
  /** vCPUs in {@link pollers} now. */
  pollerCount = 0;
  /**
   * In-process listeners by port (Dom0 services hearing their ports; see `EvtchnCore.onEvent`),
   * made by the first: a guest's table has none, so raising its ports looks nothing up. A port's one
   * listener is kept as is, several in a set: Dom0 holds a port per guest ring.
   */
  listeners: Map<number, (() => void) | Set<() => void>> | undefined = undefined;
  /** PIRQ state, made on first use: most domains have no PIRQ. */
  private pirqs: { toPort: Map<number, number>; granted: Set<number> } | undefined;
  /** The shared-info page's bytes: the pending bitmap at 2048, the mask bitmap at 2560. */
  readonly bytes: Uint8Array;
  /** The ABI in use (Xen's `d->evtchn_port_ops`): 2-level until EVTCHNOP_init_control switches to FIFO. */
  ops: EvtchnPortOps = evtchn2l;
  /** The FIFO ABI's per-domain state (Xen's `d->evtchn_fifo`), once switched. */
  fifo: FifoDomain | undefined;
  /** Xen's `max_evtchn_port` as configured (xl max_event_channels; Dom0: unlimited). */
  private configuredMax: number;
  /** Ports below this are valid (it only grows, like Xen's `valid_evtchns`). */
  validPorts = 0;
  inUse = 0;
  /** Set on `dying`: no new port may be allocated. */
  dying = false;
  /** No free port lies below this one (a search hint; the state arrays stay the truth). */
  private freeHint = 1;

  constructor(
    readonly domain: Domain,
    readonly shared: SharedInfoPage,
    readonly upcall: UpcallDelivery,
    maxPort: number,
  ) {
    this.bytes = shared.bytes;
    const a = portArrays(0, domain.vcpus.length * NR_VIRQS);
    this.virqToPort = a.virqToPort;
    this.state = a.state;
    this.notifyVcpu = a.notifyVcpu;
    this.remoteDom = a.remoteDom;
    this.remotePort = a.remotePort;
    this.bound = a.bound;
    this.peer = [];
    this.configuredMax = maxPort;
    this.grow(EVTCHNS_PER_BUCKET);
    this.state[0] = ECS.RESERVED;
  }

  get domid(): number {
    return this.domain.domid;
  }

  /** PIRQ → the port bound to it. */
  get pirqToPort(): Map<number, number> {
    return (this.pirqs ??= { toPort: new Map(), granted: new Set() }).toPort;
  }

  /** PIRQs the domain may bind (no passthrough yet: granted through the in-core API). */
  get grantedPirqs(): Set<number> {
    return (this.pirqs ??= { toPort: new Map(), granted: new Set() }).granted;
  }

  /** Xen's `max_evtchns(d)`: 4096 under 2-level, 2^17 under FIFO. */
  get abiPorts(): number {
    return this.ops.nrChannels;
  }

  /** The highest port that may be allocated: `max_evtchn_port`, within the ABI. */
  get maxPort(): number {
    return Math.min(this.configuredMax, this.abiPorts - 1);
  }

  /** Xen's `port_is_valid`. */
  isValid(port: number): boolean {
    return port >= 0 && port < this.validPorts && (port | 0) === port;
  }

  /**
   * Xen's `get_free_port`: the lowest free port ≤ maxPort that the ABI does not still hold (FIFO:
   * LINKED), making the next bucket of ports valid when every valid one is taken. −1 when none.
   */
  freePort(): number {
    const max = this.maxPort;
    for (;;) {
      const state = this.state;
      const end = Math.min(max, this.validPorts - 1);
      let hint = -1;
      for (let p = this.freeHint; p <= end; p++) {
        if (state[p] !== ECS.FREE) continue;
        if (hint < 0) hint = p;
        if (this.ops.isBusy(this, p)) continue;
        this.freeHint = hint;
        return p;
      }
      if (hint > 0) this.freeHint = hint;
      const before = this.validPorts;
      if (before > max) return -1;
      this.grow(before + EVTCHNS_PER_BUCKET);
      if (this.validPorts === before) return -1;
    }
  }

  setMaxPort(maxPort: number): void {
    this.configuredMax = Math.max(0, maxPort);
    this.grow();
  }

  /**
   * Makes ports below `target` valid (at most maxPort), as Xen adds buckets when ports are allocated.
   * Past the first bucket the arrays double, so making n ports valid copies O(n) entries in all.
   */
  grow(target = this.validPorts): void {
    if (target <= this.validPorts) return;
    const want = this.validPorts === 0 ? target : Math.max(target, this.validPorts * 2);
    const size = Math.min(this.maxPort + 1, Math.ceil(want / EVTCHNS_PER_BUCKET) * EVTCHNS_PER_BUCKET);
    if (size <= this.validPorts) return;
    const a = portArrays(size, this.virqToPort.length);
    a.virqToPort.set(this.virqToPort);
    a.state.set(this.state);
    a.notifyVcpu.set(this.notifyVcpu);
    a.remoteDom.set(this.remoteDom);
    a.remotePort.set(this.remotePort);
    a.bound.set(this.bound);
    ({ virqToPort: this.virqToPort, state: this.state, notifyVcpu: this.notifyVcpu, remoteDom: this.remoteDom, remotePort: this.remotePort, bound: this.bound } = a);
    // A copy of the exact size (pushing would leave room for more ports than are valid).
    const peer = new Array<PortTable | undefined>(size);
    for (let p = 0; p < this.peer.length; p++) peer[p] = this.peer[p];
    this.peer = peer;
    const f = this.fifoPort;
    if (f !== null) {
      const priority = grown(f.priority, size);
      priority.fill(EVTCHN_FIFO_PRIORITY_DEFAULT, this.validPorts);
      this.fifoPort = { priority, pending: grown(f.pending, size), lastVcpu: grown(f.lastVcpu, size), lastPriority: grown(f.lastPriority, size) };
    }
    this.validPorts = size;
  }

  /** Adds the FIFO per-port fields (every port at the default priority) or drops them. */
  setFifoPorts(on: boolean): void {
    if (!on) {
      this.fifoPort = null;
      return;
    }
    const n = this.validPorts;
    this.fifoPort = { priority: new Uint8Array(n).fill(EVTCHN_FIFO_PRIORITY_DEFAULT), pending: new Uint8Array(n), lastVcpu: new Uint32Array(n), lastPriority: new Uint8Array(n) };
  }

  /** Takes a free port into `state` for vCPU `vcpu` (Xen's `evtchn_port_init`: FIFO ports start at the default priority). */
  take(port: number, state: number, vcpu: number): void {
    this.state[port] = state;
    this.notifyVcpu[port] = vcpu;
    if (this.fifoPort !== null) this.fifoPort.priority[port] = EVTCHN_FIFO_PRIORITY_DEFAULT;
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
    if (port < this.freeHint) this.freeHint = port;
    this.inUse--;
  }
}
