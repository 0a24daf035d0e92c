/**
 * IPv6 for the stack: routes to link-local, multicast and configured prefixes, neighbour discovery
 * (RFC 4861: solicitation, advertisement, the cache), IPv6 input and output, ICMPv6 echo.
 */
import { ALL_NODES6, formatIp6, isLinkLocal6, isMulticast6, isUnspecified6, samePrefix6, solicitedNodeOf } from './addr.js';
import { pseudoSum6, viewOf } from './checksum.js';
import type { StackContext } from './context.js';
import { echoSentAt } from './echo.js';
import { NetError } from './errors.js';
import { ETHER_HDR_LEN, ETHERTYPE_IPV6, multicastMac6 } from './ether.js';
import { allocFrame } from './frame-alloc.js';
import {
  ICMP6_ECHO_REPLY,
  ICMP6_ECHO_REQUEST,
  ND_HOPLIMIT,
  ND_NA_FLAG_OVERRIDE,
  ND_NA_FLAG_SOLICITED,
  ND_NEIGHBOR_ADVERT,
  ND_NEIGHBOR_SOLICIT,
  ndLength,
  parseIcmp6,
  writeIcmp6Echo,
  writeNd,
  type Icmp6NeighborAdvert,
  type Icmp6NeighborSolicit,
} from './icmp6.js';
import { IPPROTO_ICMPV6, IPV6_DEFHLIM, IPV6_HDR_LEN, parseIpv6, writeIpv6Header } from './ipv6.js';
import { IPPROTO_UDP } from './ipv4.js';
import type { NetIf } from './netif.js';

/** Where a packet to an IPv6 destination goes. */
export interface Route6 {
  ifp: NetIf;
  src: Uint8Array;
  dst: Uint8Array;
  /** The next hop's neighbour-cache key (its canonical text). */
  key: string;
  /** To a multicast group: sent to its 33:33 group MAC without ND. */
  multicast: boolean;
  /** To one of our own addresses: looped back. */
  local: boolean;
}

/** Offset of the IPv6 payload in a frame. */
export const IP6_PAYLOAD_OFF = ETHER_HDR_LEN + IPV6_HDR_LEN;
const ICMP6_ECHO_HDR = 8;

export class Inet6 {
  constructor(private readonly ctx: StackContext) {}

  /**
   * The route to `dst`: link-local and multicast destinations leave by `zone` (an interface or its name;
   * the first interface when none), others by the interface whose prefix holds them. Undefined when none.
   */
  route(dst: Uint8Array, zone: NetIf | string | undefined, key?: string): Route6 | undefined {
    if (isLinkLocal6(dst) || isMulticast6(dst)) {
      const ifp = typeof zone === 'string' ? this.ctx.ifs.find((i) => i.name === zone) : (zone ?? this.ctx.ifs[0]);
      if (ifp === undefined) return undefined;
      const multicast = isMulticast6(dst);
      return { ifp, src: ifp.linkLocal.addr, dst, key: key ?? formatIp6(dst), multicast, local: !multicast && ifp.ownsAddress6(dst, 0) };
    }
    for (const ifp of this.ctx.ifs) {
      for (const a of ifp.inet6) {
        if (samePrefix6(dst, 0, a.addr, a.prefixLen)) return { ifp, src: a.addr, dst, key: key ?? formatIp6(dst), multicast: false, local: ifp.ownsAddress6(dst, 0) };
      }
    }
    return undefined;
  }

  /** Writes the Ethernet source and type and the IPv6 header of a frame whose payload starts at {@link IP6_PAYLOAD_OFF}. */
  writeHeaders(frame: Uint8Array, view: DataView, r: Route6, nextHeader: number, payloadLength: number, hopLimit = IPV6_DEFHLIM): void {
    frame.set(r.ifp.mac, 6);
    view.setUint16(12, ETHERTYPE_IPV6);
    writeIpv6Header(frame, view, ETHER_HDR_LEN, { trafficClass: 0, flowLabel: 0, nextHeader, hopLimit, src: r.src, dst: r.dst }, payloadLength);
  }

  /** Sends a frame from {@link writeHeaders}, resolving the next hop first (the frame waits meanwhile). False when dropped now. */
  send(r: Route6, frame: Uint8Array): boolean {
    const ifp = r.ifp;
    this.ctx.stats.ip6.localout++;
    if (r.local) frame.set(ifp.mac, 0);
    else if (r.multicast) frame.set(multicastMac6(r.dst), 0);
    else {
      const mac = ifp.nd.lookup(r.key);
      if (mac === undefined) {
        ifp.nd.hold(r.key, r.dst, frame);
        return true;
      }
      frame.set(mac, 0);
    }
    return ifp.transmit(frame);
  }

  /** Largest IPv6 payload `r`'s interface carries. */
  maxPayload(r: Route6): number {
    return r.ifp.driver.mtu - IPV6_HDR_LEN;
  }

  /** Sends an echo request (ping6). Throws `ENETUNREACH` without a route, `EMSGSIZE` past the MTU. */
  ping(dst: Uint8Array, zone: string | undefined, id: number, seq: number, data: Uint8Array, hopLimit: number): void {
    const r = this.route(dst, zone);
    if (r === undefined) {
      this.ctx.stats.ip6.noroute++;
      throw new NetError('ENETUNREACH', `ping6: sendto ${formatIp6(dst)}: No route to host`);
    }
    if (ICMP6_ECHO_HDR + data.length > this.maxPayload(r)) throw new NetError('EMSGSIZE', `ping6: ${data.length} data bytes do not fit ${r.ifp.name}'s mtu ${r.ifp.driver.mtu}`);
    this.ctx.stats.icmp6.outhist.echo++;
    this.sendEcho(r, ICMP6_ECHO_REQUEST, id, seq, data, hopLimit);
  }

  /** Sends a neighbour solicitation for `target` to its solicited-node group (a resolution's solicitation). */
  solicit(ifp: NetIf, target: Uint8Array): void {
    const group = solicitedNodeOf(target);
    const r: Route6 = { ifp, src: ifp.source6(target).addr, dst: group, key: '', multicast: true, local: false };
    this.ctx.stats.icmp6.outhist.neighborsolicit++;
    this.sendNd(r, ND_NEIGHBOR_SOLICIT, 0, target);
  }

  /** An IPv6 packet (the Ethernet payload). */
  input(ifp: NetIf, bytes: Uint8Array): void {
    const stats = this.ctx.stats.ip6;
    stats.total++;
    const p = parseIpv6(bytes);
    if (typeof p === 'string') {
      stats[p]++;
      return;
    }
    const group = isMulticast6(p.dst);
    if (!ifp.ownsAddress6(p.dst, 0)) {
      if (group) stats.notmember++;
      else stats.cantforward++;
      return;
    }
    stats.delivered++;
    if (p.nextHeader === IPPROTO_UDP) {
      this.ctx.udpInput(ifp, 6, p.src, group, p.payload, pseudoSum6(p.src, p.dst, IPPROTO_UDP, 0));
      return;
    }
    if (p.nextHeader !== IPPROTO_ICMPV6) {
      stats.noproto++;
      return;
    }
    const icmp = this.ctx.stats.icmp6;
    const m = parseIcmp6(p.payload, pseudoSum6(p.src, p.dst, IPPROTO_ICMPV6, 0));
    if (typeof m === 'string') {
      icmp[m]++;
      return;
    }
    switch (m.kind) {
      case 'echo-request': {
        icmp.inhist.echo++;
        const r = this.route(p.src.slice(), ifp);
        if (r === undefined) return;
        if (!group) r.src = p.dst.slice();
        icmp.outhist.echoreply++;
        this.sendEcho(r, ICMP6_ECHO_REPLY, m.id, m.seq, m.data, IPV6_DEFHLIM);
        return;
      }
      case 'echo-reply': {
        icmp.inhist.echoreply++;
        const from = formatIp6(p.src) + (isLinkLocal6(p.src) ? `%${ifp.name}` : '');
        this.ctx.echoReply({ family: 6, from, id: m.id, seq: m.seq, bytes: p.payload.length, ttl: p.hopLimit, sentAt: echoSentAt(m.data), receivedAt: this.ctx.now() });
        return;
      }
      case 'ns':
        icmp.inhist.neighborsolicit++;
        if (p.hopLimit !== ND_HOPLIMIT) icmp.badhlim++;
        else this.solicitationInput(ifp, p.src, p.dst, m);
        return;
      case 'na':
        icmp.inhist.neighboradvert++;
        if (p.hopLimit !== ND_HOPLIMIT) icmp.badhlim++;
        else this.advertisementInput(ifp, m);
        return;
      default:
        icmp.inhist.other++;
    }
  }

  /** RFC 4861 §7.2.3–7.2.4: learn the sender, answer for our own addresses. */
  private solicitationInput(ifp: NetIf, src: Uint8Array, dst: Uint8Array, m: Icmp6NeighborSolicit): void {
    const icmp = this.ctx.stats.icmp6;
    if (isMulticast6(m.target) || !ifp.ownsAddress6(m.target, 0)) return;
    const dad = isUnspecified6(src);
    if (dad && (m.sourceMac !== undefined || !isMulticast6(dst))) {
      icmp.badlen++;
      return;
    }
    const target = m.target.slice();
    let r: Route6;
    if (dad) r = { ifp, src: target, dst: ALL_NODES6, key: '', multicast: true, local: false };
    else {
      const to = src.slice();
      const key = formatIp6(to);
      if (m.sourceMac !== undefined) ifp.nd.learn(key, to, m.sourceMac, true);
      r = { ifp, src: target, dst: to, key, multicast: false, local: false };
    }
    icmp.outhist.neighboradvert++;
    this.sendNd(r, ND_NEIGHBOR_ADVERT, dad ? ND_NA_FLAG_OVERRIDE : ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE, target);
  }

  /** RFC 4861 §7.2.5: an advertisement completes or updates an entry we have; others are ignored. */
  private advertisementInput(ifp: NetIf, m: Icmp6NeighborAdvert): void {
    if (m.targetMac === undefined || isMulticast6(m.target) || ifp.ownsAddress6(m.target, 0)) return;
    const target = m.target.slice();
    ifp.nd.learn(formatIp6(target), target, m.targetMac, false);
  }

  private sendEcho(r: Route6, type: number, id: number, seq: number, data: Uint8Array, hopLimit: number): void {
    const length = ICMP6_ECHO_HDR + data.length;
    const frame = allocFrame(IP6_PAYLOAD_OFF + length);
    const view = viewOf(frame);
    writeIcmp6Echo(frame, view, IP6_PAYLOAD_OFF, type, id, seq, data, pseudoSum6(r.src, r.dst, IPPROTO_ICMPV6, 0));
    this.writeHeaders(frame, view, r, IPPROTO_ICMPV6, length, hopLimit);
    this.send(r, frame);
  }

  private sendNd(r: Route6, type: typeof ND_NEIGHBOR_SOLICIT | typeof ND_NEIGHBOR_ADVERT, flags: number, target: Uint8Array): void {
    const length = ndLength(r.ifp.mac);
    const frame = allocFrame(IP6_PAYLOAD_OFF + length);
    const view = viewOf(frame);
    writeNd(frame, view, IP6_PAYLOAD_OFF, type, flags, target, r.ifp.mac, pseudoSum6(r.src, r.dst, IPPROTO_ICMPV6, 0));
    this.writeHeaders(frame, view, r, IPPROTO_ICMPV6, length, ND_HOPLIMIT);
    this.send(r, frame);
  }
}
