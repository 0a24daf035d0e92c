/** One network interface of the stack (FreeBSD's ifnet with its addresses and its ARP and ND caches). */
import { ALL_NODES6, equal6, formatIp6, isMulticast6, linkLocalOf, samePrefix6, solicitedNodeOf } from './addr.js';
import { macEquals, macKey, multicastMac6 } from './ether.js';
import { NetError } from './errors.js';
import type { IfnetDriver } from './if.js';
import { NeighborCache, type NeighborOptions } from './neighbor.js';
import type { EtherStats } from './stats.js';

/** The interface's IPv4 address. */
export interface Inet4Address {
  addr: number;
  prefixLen: number;
  mask: number;
  broadcast: number;
}

/** One of the interface's IPv6 addresses. */
export interface Inet6Address {
  addr: Uint8Array;
  text: string;
  prefixLen: number;
}

/** What an interface needs from its stack. */
export interface NetIfHooks {
  /** The stack's Ethernet counters. */
  counters: EtherStats;
  neighbor: NeighborOptions;
  now: () => number;
  /** Sends an ARP request for `target`. */
  solicit4(ifp: NetIf, target: number): void;
  /** Sends a neighbour solicitation for `target`. */
  solicit6(ifp: NetIf, target: Uint8Array): void;
  /** Receives what the interface sends to its own MAC. */
  loop(ifp: NetIf, frame: Uint8Array): void;
}

/** An attached interface: its driver, addresses, caches and the Ethernet groups it listens to. */
export class NetIf {
  /** The driver's name, as it was when attached (the stack knows the interface by it). */
  readonly name: string;
  /** The hardware address (a copy of the driver's). */
  readonly mac: Uint8Array;
  /** fe80::/64 from the MAC by EUI-64. */
  readonly linkLocal: Inet6Address;
  inet: Inet4Address | undefined;
  /** Configured IPv6 addresses besides the link-local one. */
  inet6: Inet6Address[] = [];
  readonly arp: NeighborCache<number, number>;
  readonly nd: NeighborCache<string, Uint8Array>;
  /** Ethernet group addresses accepted (as {@link macKey}s): broadcast, all-nodes, solicited-node groups. */
  private groups = new Set<number>();

  private readonly counters: EtherStats;
  private readonly loop: (ifp: NetIf, frame: Uint8Array) => void;

  constructor(
    readonly driver: IfnetDriver,
    /** 1-based, as `scopeid` shows it. */
    readonly index: number,
    hooks: NetIfHooks,
  ) {
    if (driver.mac.length !== 6) throw new NetError('EINVAL', `${driver.name}: a MAC address has 6 bytes, got ${driver.mac.length}`);
    this.name = driver.name;
    this.counters = hooks.counters;
    this.loop = hooks.loop;
    this.mac = driver.mac.slice(0, 6);
    const ll = linkLocalOf(this.mac);
    this.linkLocal = { addr: ll, text: formatIp6(ll), prefixLen: 64 };
    const send = (frame: Uint8Array) => void this.transmit(frame);
    this.arp = new NeighborCache(hooks.now, hooks.neighbor, (t) => hooks.solicit4(this, t), send);
    this.nd = new NeighborCache(hooks.now, hooks.neighbor, (t) => hooks.solicit6(this, t), send);
    this.joinGroups();
  }

  /**
   * Hands a frame to the driver (or a copy back to ourselves when it is addressed to our MAC: the stack
   * keeps views of what it receives); false when dropped. The caller may reuse `frame` afterwards.
   */
  transmit(frame: Uint8Array): boolean {
    if (macEquals(frame, 0, this.mac)) {
      this.loop(this, frame.slice());
      return true;
    }
    if (!this.driver.up) {
      this.counters.linkdown++;
      return false;
    }
    if (!this.driver.transmit(frame)) {
      this.counters.txdrops++;
      return false;
    }
    this.counters.opackets++;
    return true;
  }

  /** True when frames to this Ethernet group address are for us. */
  acceptsGroup(frame: Uint8Array): boolean {
    return this.groups.has(macKey(frame));
  }

  /** Every IPv6 address: link-local first. */
  addresses6(): Inet6Address[] {
    return [this.linkLocal, ...this.inet6];
  }

  /** True when the 16 bytes at `offset` are one of our unicast addresses, or a group we joined. */
  ownsAddress6(bytes: Uint8Array, offset: number): boolean {
    if (isMulticast6(bytes, offset)) return equal6(bytes, offset, ALL_NODES6) || this.addresses6().some((a) => equal6(bytes, offset, solicitedNodeOf(a.addr)));
    if (equal6(bytes, offset, this.linkLocal.addr)) return true;
    for (const a of this.inet6) if (equal6(bytes, offset, a.addr)) return true;
    return false;
  }

  /** The source for a packet to `dst`: the configured address sharing its prefix, else the link-local one. */
  source6(dst: Uint8Array): Inet6Address {
    return this.inet6.find((a) => samePrefix6(dst, 0, a.addr, a.prefixLen)) ?? this.linkLocal;
  }

  /** Recomputes the groups after an address change. */
  joinGroups(): void {
    const groups = new Set<number>([0xffffffffffff, macKey(multicastMac6(ALL_NODES6))]);
    for (const a of this.addresses6()) groups.add(macKey(multicastMac6(solicitedNodeOf(a.addr))));
    this.groups = groups;
  }
}
