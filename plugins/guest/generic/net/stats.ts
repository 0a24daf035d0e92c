/** The network stack's counters, grouped by protocol as FreeBSD's `netstat -s` prints them. */

/** Frames in and out of the interfaces. */
export interface EtherStats {
  ipackets: number;
  opackets: number;
  /** Frames handed to `input` for an interface the stack does not have. */
  noif: number;
  /** Frames under 14 bytes. */
  tooshort: number;
  /** Frames addressed to another host or to a group not joined. */
  otherhost: number;
  /** EtherTypes the stack does not speak. */
  noproto: number;
  /** Frames the driver refused (its ring was full): dropped. */
  txdrops: number;
  /** Frames not sent because the link was down. */
  linkdown: number;
}

export interface ArpStats {
  txrequests: number;
  txreplies: number;
  rxrequests: number;
  rxreplies: number;
  /** ARP packets received. */
  received: number;
  tooshort: number;
  badformat: number;
  badop: number;
  /** Packets dropped while waiting for resolution. */
  dropped: number;
  /** Resolutions given up. */
  timeouts: number;
}

export interface IpStats {
  total: number;
  badsum: number;
  tooshort: number;
  badvers: number;
  badhlen: number;
  badlen: number;
  fragdropped: number;
  /** Packets for another host (we do not forward). */
  cantforward: number;
  noproto: number;
  delivered: number;
  localout: number;
  /** Packets to a destination with no route. */
  noroute: number;
}

export interface IcmpStats {
  tooshort: number;
  badsum: number;
  /** Echo requests to a broadcast address, ignored (net.inet.icmp.bmcastecho=0). */
  bmcastecho: number;
  /** Input histogram by type name. */
  inhist: { echoreply: number; echo: number; other: number };
  outhist: { echoreply: number; echo: number };
}

export interface Ip6Stats {
  total: number;
  tooshort: number;
  badvers: number;
  /** Packets for a group we did not join. */
  notmember: number;
  /** Packets for another host's unicast address (we do not forward). */
  cantforward: number;
  /** Next headers the stack does not follow (extension headers included). */
  noproto: number;
  delivered: number;
  localout: number;
  noroute: number;
}

export interface Icmp6Stats {
  tooshort: number;
  badsum: number;
  badcode: number;
  badlen: number;
  /** ND messages that arrived with a hop limit other than 255. */
  badhlim: number;
  inhist: { echoreply: number; echo: number; neighborsolicit: number; neighboradvert: number; other: number };
  outhist: { echoreply: number; echo: number; neighborsolicit: number; neighboradvert: number };
}

export interface Nd6Stats {
  dropped: number;
  timeouts: number;
}

export interface UdpStats {
  ipackets: number;
  /** Shorter than a UDP header. */
  hdrops: number;
  badlen: number;
  badsum: number;
  /** Without a checksum (accepted on IPv4, dropped on IPv6). */
  nosum: number;
  noport: number;
  noportbcast: number;
  /** Dropped because the socket's receive queue was full. */
  fullsock: number;
  delivered: number;
  opackets: number;
}

/** Everything `netstat -s` shows; a plain object, a copy. */
export interface NetStats {
  ether: EtherStats;
  arp: ArpStats;
  ip: IpStats;
  icmp: IcmpStats;
  ip6: Ip6Stats;
  icmp6: Icmp6Stats;
  nd6: Nd6Stats;
  udp: UdpStats;
}

/** All counters at zero. */
export function emptyNetStats(): NetStats {
  return {
    ether: { ipackets: 0, opackets: 0, noif: 0, tooshort: 0, otherhost: 0, noproto: 0, txdrops: 0, linkdown: 0 },
    arp: { txrequests: 0, txreplies: 0, rxrequests: 0, rxreplies: 0, received: 0, tooshort: 0, badformat: 0, badop: 0, dropped: 0, timeouts: 0 },
    ip: { total: 0, badsum: 0, tooshort: 0, badvers: 0, badhlen: 0, badlen: 0, fragdropped: 0, cantforward: 0, noproto: 0, delivered: 0, localout: 0, noroute: 0 },
    icmp: { tooshort: 0, badsum: 0, bmcastecho: 0, inhist: { echoreply: 0, echo: 0, other: 0 }, outhist: { echoreply: 0, echo: 0 } },
    ip6: { total: 0, tooshort: 0, badvers: 0, notmember: 0, cantforward: 0, noproto: 0, delivered: 0, localout: 0, noroute: 0 },
    icmp6: {
      tooshort: 0,
      badsum: 0,
      badcode: 0,
      badlen: 0,
      badhlim: 0,
      inhist: { echoreply: 0, echo: 0, neighborsolicit: 0, neighboradvert: 0, other: 0 },
      outhist: { echoreply: 0, echo: 0, neighborsolicit: 0, neighboradvert: 0 },
    },
    nd6: { dropped: 0, timeouts: 0 },
    udp: { ipackets: 0, hdrops: 0, badlen: 0, badsum: 0, nosum: 0, noport: 0, noportbcast: 0, fullsock: 0, delivered: 0, opackets: 0 },
  };
}

/** A deep copy. */
export function copyNetStats(s: NetStats): NetStats {
  return JSON.parse(JSON.stringify(s)) as NetStats;
}
