/** IPv4 for the stack: routes to attached subnets, ARP (RFC 826), IPv4 input and output, ICMP echo. */
import { formatIp4 } from './addr.js';
import { ARP_LEN, ARPOP_REPLY, ARPOP_REQUEST, parseArp, writeArp } from './arp.js';
import { pseudoSum4, viewOf } from './checksum.js';
import type { StackContext } from './context.js';
import { echoSentAt } from './echo.js';
import { NetError } from './errors.js';
import { BROADCAST_MAC, ETHER_HDR_LEN, ETHERTYPE_ARP, ETHERTYPE_IP, writeEtherHeader } from './ether.js';
import { allocFrame } from './frame-alloc.js';
import { ICMP_ECHO, ICMP_ECHOREPLY, ICMP_MINLEN, parseIcmp, writeIcmpEcho } from './icmp.js';
import { IPDEFTTL, IPPROTO_ICMP, IPPROTO_UDP, IPV4_HDR_LEN, parseIpv4, writeIpv4Header } from './ipv4.js';
import type { NetIf } from './netif.js';

/** Where a packet to an IPv4 destination goes. */
export interface Route4 {
  ifp: NetIf;
  /** Our address on that interface: the packet's source. */
  src: number;
  nextHop: number;
  /** To the subnet's broadcast address or 255.255.255.255: sent to ff:ff:ff:ff:ff:ff without ARP. */
  broadcast: boolean;
  /** To one of our own addresses: looped back. */
  local: boolean;
}

/** Offset of the IPv4 payload in a frame. */
export const IP4_PAYLOAD_OFF = ETHER_HDR_LEN + IPV4_HDR_LEN;
const ZERO_MAC = new Uint8Array(6);

export class Inet4 {
  private ipId = 0;

  constructor(private readonly ctx: StackContext) {}

  /** The route to `dst` (attached subnets only: there is no gateway); undefined when none. */
  route(dst: number): Route4 | undefined {
    for (const ifp of this.ctx.ifs) {
      const a = ifp.inet;
      if (a === undefined) continue;
      if (dst === a.addr) return { ifp, src: a.addr, nextHop: dst, broadcast: false, local: true };
      if (dst === 0xffffffff || dst === a.broadcast) return { ifp, src: a.addr, nextHop: dst, broadcast: true, local: false };
      if (((dst ^ a.addr) & a.mask) === 0) return { ifp, src: a.addr, nextHop: dst, broadcast: false, local: false };
    }
    return undefined;
  }

  /** Writes the Ethernet source and type and the IPv4 header of a frame whose payload starts at {@link IP4_PAYLOAD_OFF}. */
  writeHeaders(frame: Uint8Array, view: DataView, r: Route4, dst: number, protocol: number, payloadLength: number, ttl = IPDEFTTL): void {
    frame.set(r.ifp.mac, 6);
    view.setUint16(12, ETHERTYPE_IP);
    this.ipId = (this.ipId + 1) & 0xffff;
    writeIpv4Header(view, ETHER_HDR_LEN, { tos: 0, id: this.ipId, df: false, ttl, protocol, src: r.src, dst }, payloadLength);
  }

  /** Sends a frame from {@link writeHeaders}, resolving the next hop first (the frame waits meanwhile). False when dropped now. */
  send(r: Route4, frame: Uint8Array): boolean {
    const ifp = r.ifp;
    this.ctx.stats.ip.localout++;
    if (r.local) frame.set(ifp.mac, 0);
    else if (r.broadcast) frame.set(BROADCAST_MAC, 0);
    else {
      const mac = ifp.arp.lookup(r.nextHop);
      if (mac === undefined) {
        ifp.arp.hold(r.nextHop, r.nextHop, frame);
        return true;
      }
      frame.set(mac, 0);
    }
    return ifp.transmit(frame);
  }

  /** Largest IPv4 payload `r`'s interface carries. */
  maxPayload(r: Route4): number {
    return r.ifp.driver.mtu - IPV4_HDR_LEN;
  }

  /** Sends an echo request (ping). Throws `ENETUNREACH` without a route, `EMSGSIZE` past the MTU. */
  ping(dst: number, id: number, seq: number, data: Uint8Array, ttl: number): void {
    const r = this.route(dst);
    if (r === undefined) {
      this.ctx.stats.ip.noroute++;
      throw new NetError('ENETUNREACH', `ping: sendto ${formatIp4(dst)}: No route to host`);
    }
    const length = ICMP_MINLEN + data.length;
    if (length > this.maxPayload(r)) throw new NetError('EMSGSIZE', `ping: ${data.length} data bytes do not fit ${r.ifp.name}'s mtu ${r.ifp.driver.mtu}`);
    this.ctx.stats.icmp.outhist.echo++;
    this.sendIcmpEcho(r, dst, ICMP_ECHO, id, seq, data, ttl);
  }

  /** Sends an ARP request for `target` out of `ifp` (a resolution's solicitation). */
  solicit(ifp: NetIf, target: number): void {
    if (ifp.inet === undefined) return;
    this.ctx.stats.arp.txrequests++;
    sendArp(ifp, ifp.inet.addr, ARPOP_REQUEST, BROADCAST_MAC, ZERO_MAC, target);
  }

  /** An ARP packet: learn the sender (RFC 826's merge), answer a request for our address. */
  arpInput(ifp: NetIf, bytes: Uint8Array): void {
    const stats = this.ctx.stats.arp;
    stats.received++;
    const p = parseArp(bytes);
    if (typeof p === 'string') {
      stats[p]++;
      return;
    }
    if (p.op === ARPOP_REQUEST) stats.rxrequests++;
    else stats.rxreplies++;
    const a = ifp.inet;
    if (a === undefined || p.senderIp === a.addr || p.senderIp === 0) return;
    const forUs = p.targetIp === a.addr;
    ifp.arp.learn(p.senderIp, p.senderIp, p.senderMac, forUs);
    if (p.op !== ARPOP_REQUEST || !forUs) return;
    stats.txreplies++;
    sendArp(ifp, a.addr, ARPOP_REPLY, p.senderMac, p.senderMac, p.senderIp);
  }

  /** An IPv4 packet (the Ethernet payload). */
  input(ifp: NetIf, bytes: Uint8Array): void {
    const stats = this.ctx.stats.ip;
    stats.total++;
    const p = parseIpv4(bytes);
    if (typeof p === 'string') {
      stats[p]++;
      return;
    }
    const broadcast = p.dst === 0xffffffff || (ifp.inet !== undefined && p.dst === ifp.inet.broadcast);
    if (!broadcast && !this.isLocal(p.dst)) {
      stats.cantforward++;
      return;
    }
    stats.delivered++;
    if (p.protocol === IPPROTO_UDP) {
      this.ctx.udpInput(ifp, 4, bytes.subarray(12, 16), broadcast, p.payload, pseudoSum4(p.src, p.dst, IPPROTO_UDP, 0));
    } else if (p.protocol === IPPROTO_ICMP) {
      this.icmpInput(p.src, p.dst, p.ttl, p.payload, broadcast);
    } else stats.noproto++;
  }

  private isLocal(addr: number): boolean {
    for (const ifp of this.ctx.ifs) if (ifp.inet?.addr === addr) return true;
    return false;
  }

  private icmpInput(src: number, dst: number, ttl: number, bytes: Uint8Array, broadcast: boolean): void {
    const stats = this.ctx.stats.icmp;
    const m = parseIcmp(bytes);
    if (typeof m === 'string') {
      stats[m]++;
      return;
    }
    if (m.type === ICMP_ECHO) {
      stats.inhist.echo++;
      if (broadcast) {
        stats.bmcastecho++;
        return;
      }
      const r = this.route(src);
      if (r === undefined) {
        this.ctx.stats.ip.noroute++;
        return;
      }
      stats.outhist.echoreply++;
      this.sendIcmpEcho({ ...r, src: dst }, src, ICMP_ECHOREPLY, m.id, m.seq, m.data, IPDEFTTL);
    } else if (m.type === ICMP_ECHOREPLY) {
      stats.inhist.echoreply++;
      this.ctx.echoReply({ family: 4, from: formatIp4(src), id: m.id, seq: m.seq, bytes: bytes.length, ttl, sentAt: echoSentAt(m.data), receivedAt: this.ctx.now() });
    } else stats.inhist.other++;
  }

  private sendIcmpEcho(r: Route4, dst: number, type: number, id: number, seq: number, data: Uint8Array, ttl: number): void {
    const length = ICMP_MINLEN + data.length;
    const frame = allocFrame(IP4_PAYLOAD_OFF + length);
    const view = viewOf(frame);
    writeIcmpEcho(frame, view, IP4_PAYLOAD_OFF, type, id, seq, data);
    this.writeHeaders(frame, view, r, dst, IPPROTO_ICMP, length, ttl);
    this.send(r, frame);
  }
}

/** Sends an ARP packet from `ifp` (whose IPv4 address is `senderIp`) to Ethernet `dst`. */
function sendArp(ifp: NetIf, senderIp: number, op: number, dst: Uint8Array, targetMac: Uint8Array, targetIp: number): void {
  const frame = allocFrame(ETHER_HDR_LEN + ARP_LEN);
  writeEtherHeader(frame, dst, ifp.mac, ETHERTYPE_ARP);
  writeArp(frame, ETHER_HDR_LEN, { op, senderMac: ifp.mac, senderIp, targetMac, targetIp });
  ifp.transmit(frame);
}
