/**
 * Network interfaces (FreeBSD's `struct ifnet`): what a NIC driver offers the network stack — netfront's
 * `xn0`, the RTL8139 driver's `rl0`. The driver calls `input` for each frame it receives; the stack
 * calls the driver's `transmit` for each frame it sends.
 */

export interface IfnetStats {
  ipackets: number;
  ibytes: number;
  opackets: number;
  obytes: number;
  /** Frames the driver could not send (ring full, link down). */
  oerrors: number;
  /** Frames received and dropped (malformed, no room). */
  ierrors: number;
}

/** The driver's side of an interface. */
export interface IfnetDriver {
  /** `xn0`, `rl0`. */
  readonly name: string;
  /** The hardware address, 6 bytes. */
  readonly mac: Uint8Array;
  /** Largest payload (1500 unless the vif's `mtu` says otherwise). */
  readonly mtu: number;
  /** True once the link is up (netfront Connected, the NIC's link bit). */
  readonly up: boolean;
  /**
   * Queues one Ethernet frame (destination MAC first, no FCS) for transmission; false when it could not
   * (the ring is full: the caller may retry after the driver's next interrupt). The frame is lent for the
   * call only: the driver copies it into its own buffers (as a NIC's DMA would), and the stack reuses it.
   */
  transmit(frame: Uint8Array): boolean;
  readonly stats: IfnetStats;
}

export function emptyIfnetStats(): IfnetStats {
  return { ipackets: 0, ibytes: 0, opackets: 0, obytes: 0, oerrors: 0, ierrors: 0 };
}
