/**
 * Dom0's software bridges (Linux bridges as `vif-bridge` joins vifs to them): each is a learning
 * Ethernet switch. netback plugs each vif in; an emulated NIC's device model plugs in its wire. The
 * `bridge` Dom0 plugin provides {@link Bridges}, with the bridges its options declare (`xenbr0` by
 * default) and, per bridge, an optional pcap file of every frame it forwards.
 */
import { token } from './tokens.js';

/** Something plugged into a bridge: the bridge hands it frames. */
export interface NetPort {
  /** `vif3.0`, `tap4.0`: what logs and `brctl show` call it. */
  readonly name: string;
  /**
   * A frame for this port (runs inside the simulation, at the virtual time the bridge forwards it). The
   * port copies what it keeps: `frame` is the bridge's buffer. Returns false when the port dropped it
   * (its queue was full).
   */
  deliver(frame: Uint8Array): boolean;
}

/** A port's place on a bridge. */
export interface BridgePort {
  readonly bridge: Bridge;
  /** The port sends a frame (a whole Ethernet frame, destination MAC first, no FCS) into the bridge. */
  send(frame: Uint8Array): void;
  /** Unplugs it (idempotent); the bridge forgets the MACs it learnt there. */
  detach(): void;
}

export interface BridgeStats {
  /** Frames sent into the bridge. */
  readonly received: number;
  /** Frames handed to ports (a flooded frame counts once per port). */
  readonly delivered: number;
  /** Frames a port refused or that had no port to go to. */
  readonly dropped: number;
  /** Frames too short to be Ethernet (under 14 bytes) or over the bridge's MTU plus header. */
  readonly malformed: number;
}

/** One learning switch. */
export interface Bridge {
  readonly name: string;
  /** Plugs `port` in. `GuestError('EEXIST')` when a port of that name is plugged in already. */
  attach(port: NetPort): BridgePort;
  /** Names of the ports plugged in, in attach order. */
  ports(): string[];
  /** MAC → port name of what it has learnt (for `brctl showmacs`). */
  macs(): ReadonlyMap<string, string>;
  readonly stats: BridgeStats;
  /** The pcap file it writes, if any. */
  readonly pcapPath: string | undefined;
}

export interface Bridges {
  /** The bridge `name`; `GuestError('ENOENT')` naming it when the host has no such bridge. */
  get(name: string): Bridge;
  list(): Bridge[];
}
export const Bridges = token<Bridges>('Bridges');
