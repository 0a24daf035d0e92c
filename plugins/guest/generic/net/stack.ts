/**
 * The guest kernel's network stack: interfaces over {@link IfnetDriver}s, ARP and IPv4, neighbour
 * discovery and IPv6, ICMP/ICMPv6 echo, UDP sockets. Pure and deterministic: time comes from `now()`,
 * and work that waits for time (resolution retries) shows as {@link NetStack.deadline}, which the kernel
 * arms a timer for and answers with {@link NetStack.timeout}. After any call the deadline may have moved.
 */
import { formatIp4, formatIp6, isLinkLocal6, isMulticast6, isUnspecified6, maskOf, parseIp, parseIp4, parseIp6, type IpAddr } from './addr.js';
import { pseudoSum4, pseudoSum6, viewOf } from './checksum.js';
import type { StackContext } from './context.js';
import { echoData, type EchoReply } from './echo.js';
import { NetError } from './errors.js';
import { ETHER_HDR_LEN, ETHERTYPE_ARP, ETHERTYPE_IP, ETHERTYPE_IPV6, formatMac, isGroupMac, macEquals } from './ether.js';
import { allocFrame } from './frame-alloc.js';
import { formatIfconfig } from './ifconfig.js';
import type { IfnetDriver } from './if.js';
import { Inet4, IP4_PAYLOAD_OFF } from './inet.js';
import { Inet6, IP6_PAYLOAD_OFF } from './inet6.js';
import { IPPROTO_UDP, IPDEFTTL } from './ipv4.js';
import { IPV6_DEFHLIM } from './ipv6.js';
import type { NeighborOptions } from './neighbor.js';
import { NetIf } from './netif.js';
import { copyNetStats, emptyNetStats, type NetStats } from './stats.js';
import { Datagram, UdpSocket } from './udp-socket.js';
import { parseUdp, UDP_HDR_LEN, writeUdpHeader } from './udp.js';

export interface NetStackOptions {
  /** Virtual time in ns. */
  now: () => number;
  hostname?: string;
  /** ARP and ND: tries 3, 1 s apart; 16 packets held per next hop; entries live 1200 s; 512 entries. */
  neighbor?: Partial<NeighborOptions>;
  /** Echo replies kept until {@link NetStack.takeEchoReplies} (the oldest go first); 64. */
  maxEchoReplies?: number;
  /** Default receive buffer of a UDP socket, bytes; 262144. */
  udpRecvSpace?: number;
}

/** What ping asks for: identifier, sequence number, data bytes (56 by default, as ping's -s). */
export interface PingOptions {
  id: number;
  seq: number;
  size?: number;
  /** IPv4 TTL or IPv6 hop limit; 64. */
  ttl?: number;
}

/** Addresses `configure` sets: `inet: '10.0.0.2/24'`, `inet6: 'fd00::2/64'`. */
export interface IfAddressConfig {
  inet?: string;
  inet6?: string;
}

/** One neighbour cache entry. */
export interface NeighborInfo {
  ifname: string;
  family: 4 | 6;
  address: string;
  /** Undefined while incomplete (resolution under way). */
  mac: string | undefined;
  /** Virtual ns until a resolved entry expires. */
  expiresInNs: number;
}

const DEFAULT_NEIGHBOR: NeighborOptions = { tries: 3, retryNs: 1e9, maxHold: 16, lifetimeNs: 1200e9, maxEntries: 512 };
const EPHEMERAL_FIRST = 49152;
/** The transmit buffer's size: a jumbo frame (larger datagrams get a buffer of their own). */
const TX_BUFFER_BYTES = 9018;

/** One guest's network stack (see the file comment); every interface, socket and counter of the guest. */
export class NetStack {
  readonly hostname: string;
  /** Called for each echo reply as it arrives (it is also queued for {@link takeEchoReplies}). */
  onEchoReply: ((reply: EchoReply) => void) | undefined;
  private readonly counters = emptyNetStats();
  private readonly ifs: NetIf[] = [];
  private readonly byName = new Map<string, NetIf>();
  private readonly sockets = new Map<number, UdpSocket>();
  private readonly replies: EchoReply[] = [];
  private readonly neighbor: NeighborOptions;
  private readonly maxEchoReplies: number;
  private readonly udpRecvSpace: number;
  private readonly inet4: Inet4;
  private readonly inet6: Inet6;
  private readonly now: () => number;
  private nextEphemeral = EPHEMERAL_FIRST;
  /** Set while a frame whose transport checksum the driver validated is going up. */
  private checksumValid = false;
  private nextIndex = 1;
  private lastDstText: string | undefined;
  private lastDst: IpAddr | undefined;
  private readonly socketHost = { send: this.udpSend.bind(this), close: (s: UdpSocket) => void this.sockets.delete(s.port) };
  /** Where {@link udpSend} builds each frame: drivers copy what they transmit (IfnetDriver.transmit), so one buffer serves. */
  private readonly txBuffer = new Uint8Array(TX_BUFFER_BYTES);
  private readonly txView = new DataView(this.txBuffer.buffer);
  private txFrame = this.txBuffer.subarray(0, 0);
  private frameView: DataView = this.txView;

  constructor(options: NetStackOptions) {
    this.now = options.now;
    this.hostname = options.hostname ?? 'localhost';
    this.neighbor = { ...DEFAULT_NEIGHBOR, ...options.neighbor };
    this.maxEchoReplies = options.maxEchoReplies ?? 64;
    this.udpRecvSpace = options.udpRecvSpace ?? 262_144;
    const ctx: StackContext = {
      now: this.now,
      stats: this.counters,
      ifs: this.ifs,
      echoReply: (r) => this.echoReply(r),
      udpInput: (ifp, family, src, group, bytes, pseudoBase) => this.udpInput(ifp, family, src, group, bytes, pseudoBase),
    };
    this.inet4 = new Inet4(ctx);
    this.inet6 = new Inet6(ctx);
  }

  /** Adds an interface (with its link-local IPv6 address). `EEXIST` when one of that name is attached. */
  attach(driver: IfnetDriver): NetIf {
    if (this.byName.has(driver.name)) throw new NetError('EEXIST', `${driver.name}: interface already attached`);
    const ifp = new NetIf(driver, this.nextIndex++, {
      counters: this.counters.ether,
      neighbor: this.neighbor,
      now: this.now,
      solicit4: (i, t) => this.inet4.solicit(i, t),
      solicit6: (i, t) => this.inet6.solicit(i, t),
      loop: (i, frame) => this.etherInput(i, frame),
    });
    this.ifs.push(ifp);
    this.byName.set(driver.name, ifp);
    return ifp;
  }

  /** Removes an interface; packets waiting for its neighbours are dropped. */
  detach(ifname: string): void {
    const ifp = this.interface(ifname);
    ifp.arp.clear();
    ifp.nd.clear();
    this.foldCounters(ifp);
    this.ifs.splice(this.ifs.indexOf(ifp), 1);
    this.byName.delete(ifname);
  }

  /** The interface `ifname`; `ENXIO` when there is none. */
  interface(ifname: string): NetIf {
    const ifp = this.byName.get(ifname);
    if (ifp === undefined) throw new NetError('ENXIO', `${ifname}: no such interface`);
    return ifp;
  }

  interfaces(): readonly NetIf[] {
    return this.ifs;
  }

  /** Sets an interface's IPv4 address and/or its (one) configured IPv6 address. `EINVAL` names a bad one. */
  configure(ifname: string, config: IfAddressConfig): void {
    const ifp = this.interface(ifname);
    if (config.inet !== undefined) {
      const [text, len] = config.inet.split('/');
      const addr = parseIp4(text ?? '');
      const prefixLen = len === undefined ? classfulPrefix(addr ?? 0) : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
      if (addr === undefined || !(prefixLen >= 0 && prefixLen <= 32)) throw new NetError('EINVAL', `ifconfig: ${ifname}: bad inet address "${config.inet}"`);
      const mask = maskOf(prefixLen);
      ifp.inet = { addr, prefixLen, mask, broadcast: (addr | ~mask) >>> 0 };
      ifp.arp.clear();
    }
    if (config.inet6 !== undefined) {
      const [text, len] = config.inet6.split('/');
      const parsed = parseIp6(text ?? '');
      const prefixLen = len === undefined ? 64 : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
      const bad = parsed === undefined || parsed.zone !== undefined || isMulticast6(parsed.bytes) || isUnspecified6(parsed.bytes) || isLinkLocal6(parsed.bytes);
      if (bad || !(prefixLen >= 1 && prefixLen <= 128)) throw new NetError('EINVAL', `ifconfig: ${ifname}: bad inet6 address "${config.inet6}"`);
      ifp.inet6 = [{ addr: parsed.bytes, text: formatIp6(parsed.bytes), prefixLen }];
      ifp.joinGroups();
    }
  }

  /**
   * A frame the driver of `ifname` received (destination MAC first, no FCS). The stack keeps views into it
   * (queued UDP data), so the driver must not reuse the buffer. Malformed frames are counted, never thrown.
   * `checksumValid`: the device checked the transport checksum already (it is not verified again).
   */
  input(ifname: string, frame: Uint8Array, checksumValid = false): void {
    const ifp = this.byName.get(ifname);
    if (ifp === undefined) {
      this.counters.ether.noif++;
      return;
    }
    // The driver vouches for the transport checksum (netfront's NETRXF_data_validated, FreeBSD's CSUM_DATA_VALID).
    this.checksumValid = checksumValid;
    try {
      this.etherInput(ifp, frame);
    } finally {
      this.checksumValid = false;
    }
  }

  /** Sends an echo request to `dst` (IPv4 or IPv6); the reply shows in {@link takeEchoReplies}. */
  ping(dst: string | IpAddr, options: PingOptions): void {
    const { id, seq, size = 56 } = options;
    for (const [name, v, max] of [['id', id, 0xffff], ['seq', seq, 0xffff], ['size', size, 65_507]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > max) throw new NetError('EINVAL', `ping: ${name} must be an integer from 0 to ${max}, got ${v}`);
    }
    const addr = this.address(dst, 'ping');
    const data = echoData(size, this.now());
    if (addr.family === 4) this.inet4.ping(addr.value, id, seq, data, options.ttl ?? IPDEFTTL);
    else this.inet6.ping(addr.bytes, addr.zone, id, seq, data, options.ttl ?? IPV6_DEFHLIM);
  }

  /** The echo replies received since the last call, oldest first. */
  takeEchoReplies(): EchoReply[] {
    return this.replies.splice(0);
  }

  /** Binds a UDP port (0: the next free one from 49152). `EADDRINUSE` when it is bound. */
  udpBind(port = 0, options: { rcvbuf?: number } = {}): UdpSocket {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new NetError('EINVAL', `udp: bad port ${port}`);
    if (port === 0) port = this.ephemeralPort();
    else if (this.sockets.has(port)) throw new NetError('EADDRINUSE', `udp: port ${port} is already bound`);
    const socket = new UdpSocket(port, options.rcvbuf ?? this.udpRecvSpace, this.socketHost);
    this.sockets.set(port, socket);
    return socket;
  }

  /**
   * Sends `data` from port `src` (a socket or a number) to `dst`:`dstPort`. True when it went to the driver
   * or waits for the next hop's resolution; false when dropped (the driver's ring was full, the link down).
   * Throws `EINVAL` (bad port, address, closed socket), `ENETUNREACH` (no route), `EMSGSIZE` (over the MTU).
   */
  udpSend(src: UdpSocket | number, dst: string | IpAddr, dstPort: number, data: Uint8Array): boolean {
    const srcPort = typeof src === 'number' ? src : src.port;
    if (typeof src !== 'number' && src.closed) throw new NetError('EINVAL', `udp: socket ${srcPort} is closed`);
    if (!(srcPort >= 1 && srcPort <= 0xffff && dstPort >= 1 && dstPort <= 0xffff) || !Number.isInteger(srcPort) || !Number.isInteger(dstPort)) {
      throw new NetError('EINVAL', `udp: bad port (source ${srcPort}, destination ${dstPort})`);
    }
    const addr = this.address(dst, 'udp');
    const length = UDP_HDR_LEN + data.length;
    if (addr.family === 4) {
      const r = this.inet4.route(addr.value);
      if (r === undefined) throw this.noRoute(addr);
      if (length > this.inet4.maxPayload(r)) throw tooBig(data.length, r.ifp);
      const frame = this.frameFor(IP4_PAYLOAD_OFF + length);
      const view = this.frameView;
      frame.set(data, IP4_PAYLOAD_OFF + UDP_HDR_LEN);
      writeUdpHeader(view, IP4_PAYLOAD_OFF, srcPort, dstPort, data.length, pseudoSum4(r.src, addr.value, IPPROTO_UDP, 0));
      this.inet4.writeHeaders(frame, view, r, addr.value, IPPROTO_UDP, length);
      this.counters.udp.opackets++;
      return this.inet4.send(r, frame);
    }
    const r = this.inet6.route(addr.bytes, addr.zone, addr.text);
    if (r === undefined) throw this.noRoute(addr);
    if (length > this.inet6.maxPayload(r)) throw tooBig(data.length, r.ifp);
    const frame = this.frameFor(IP6_PAYLOAD_OFF + length);
    const view = this.frameView;
    frame.set(data, IP6_PAYLOAD_OFF + UDP_HDR_LEN);
    writeUdpHeader(view, IP6_PAYLOAD_OFF, srcPort, dstPort, data.length, pseudoSum6(r.src, r.dst, IPPROTO_UDP, 0));
    this.inet6.writeHeaders(frame, view, r, IPPROTO_UDP, length);
    this.counters.udp.opackets++;
    return this.inet6.send(r, frame);
  }

  /** A frame of `length` bytes to build a datagram in (the transmit buffer when it fits), with {@link frameView} set to a view whose offsets are its. */
  private frameFor(length: number): Uint8Array {
    if (length > TX_BUFFER_BYTES) {
      const frame = allocFrame(length);
      this.frameView = viewOf(frame);
      return frame;
    }
    if (this.txFrame.length !== length) this.txFrame = this.txBuffer.subarray(0, length);
    this.frameView = this.txView;
    return this.txFrame;
  }

  /** Absolute virtual ns at which {@link timeout} has work (a resolution to retry or give up); 0 when none. */
  deadline(): number {
    let next = 0;
    for (const ifp of this.ifs) next = earlier(earlier(next, ifp.arp.deadline()), ifp.nd.deadline());
    return next;
  }

  /** Does the work that was due by now (retries solicitations, drops what waited too long). */
  timeout(): void {
    for (const ifp of this.ifs) {
      ifp.arp.timeout();
      ifp.nd.timeout();
    }
  }

  /** `ifconfig` (every interface) or `ifconfig <ifname>`. */
  ifconfig(ifname?: string): string {
    return (ifname === undefined ? this.ifs : [this.interface(ifname)]).map(formatIfconfig).join('');
  }

  /** The ARP and ND caches (`arp -a`, `ndp -a`), interface by interface. */
  neighbors(): NeighborInfo[] {
    const now = this.now();
    const row = (ifp: NetIf, family: 4 | 6, address: string, e: { mac: Uint8Array | undefined; expires: number }): NeighborInfo => ({
      ifname: ifp.name,
      family,
      address,
      mac: e.mac === undefined ? undefined : formatMac(e.mac),
      expiresInNs: e.mac === undefined ? 0 : Math.max(0, e.expires - now),
    });
    return this.ifs.flatMap((ifp) => [...ifp.arp.list().map((e) => row(ifp, 4, formatIp4(e.target), e)), ...ifp.nd.list().map((e) => row(ifp, 6, formatIp6(e.target), e))]);
  }

  /** A copy of the counters (`netstat -s`). */
  stats(): NetStats {
    const s = copyNetStats(this.counters);
    for (const ifp of this.ifs) {
      s.arp.dropped += ifp.arp.counters.dropped;
      s.arp.timeouts += ifp.arp.counters.timeouts;
      s.nd6.dropped += ifp.nd.counters.dropped;
      s.nd6.timeouts += ifp.nd.counters.timeouts;
    }
    return s;
  }

  private etherInput(ifp: NetIf, frame: Uint8Array): void {
    const ether = this.counters.ether;
    ether.ipackets++;
    if (frame.length < ETHER_HDR_LEN) {
      ether.tooshort++;
      return;
    }
    if (isGroupMac(frame) ? !ifp.acceptsGroup(frame) : !macEquals(frame, 0, ifp.mac)) {
      ether.otherhost++;
      return;
    }
    const type = (frame[12]! << 8) | frame[13]!;
    const payload = frame.subarray(ETHER_HDR_LEN);
    if (type === ETHERTYPE_IP) this.inet4.input(ifp, payload);
    else if (type === ETHERTYPE_IPV6) this.inet6.input(ifp, payload);
    else if (type === ETHERTYPE_ARP) this.inet4.arpInput(ifp, payload);
    else ether.noproto++;
  }

  private udpInput(ifp: NetIf, family: 4 | 6, src: Uint8Array, group: boolean, bytes: Uint8Array, pseudoBase: number): void {
    const udp = this.counters.udp;
    udp.ipackets++;
    const d = parseUdp(bytes, pseudoBase, family === 4, !this.checksumValid);
    if (typeof d === 'string') {
      udp[d]++;
      return;
    }
    if (!d.checksummed) udp.nosum++;
    const socket = this.sockets.get(d.dstPort);
    if (socket === undefined) {
      if (group) udp.noportbcast++;
      else udp.noport++;
      return;
    }
    if (!socket.enqueue(new Datagram(d.data, d.srcPort, family, src, ifp.name, this.now()))) {
      udp.fullsock++;
      return;
    }
    udp.delivered++;
  }

  private echoReply(reply: EchoReply): void {
    if (this.replies.length >= this.maxEchoReplies) this.replies.shift();
    this.replies.push(reply);
    this.onEchoReply?.(reply);
  }

  /** Parses `dst` (a one-entry cache keeps a sender's repeated string cheap). */
  private address(dst: string | IpAddr, who: string): IpAddr {
    if (typeof dst !== 'string') return dst;
    if (dst === this.lastDstText && this.lastDst !== undefined) return this.lastDst;
    const addr = parseIp(dst);
    if (addr === undefined) throw new NetError('EINVAL', `${who}: ${dst}: not an IPv4 or IPv6 address`);
    this.lastDstText = dst;
    this.lastDst = addr;
    return addr;
  }

  private noRoute(addr: IpAddr): NetError {
    if (addr.family === 4) this.counters.ip.noroute++;
    else this.counters.ip6.noroute++;
    return new NetError('ENETUNREACH', `udp: sendto ${addr.text}: No route to host`);
  }

  private ephemeralPort(): number {
    for (let n = 0; n <= 0xffff - EPHEMERAL_FIRST; n++) {
      const port = this.nextEphemeral;
      this.nextEphemeral = port === 0xffff ? EPHEMERAL_FIRST : port + 1;
      if (!this.sockets.has(port)) return port;
    }
    throw new NetError('EADDRINUSE', 'udp: no free port from 49152 to 65535');
  }

  /** Keeps a detached interface's cache counters in the totals. */
  private foldCounters(ifp: NetIf): void {
    this.counters.arp.dropped += ifp.arp.counters.dropped;
    this.counters.arp.timeouts += ifp.arp.counters.timeouts;
    this.counters.nd6.dropped += ifp.nd.counters.dropped;
    this.counters.nd6.timeouts += ifp.nd.counters.timeouts;
  }
}

function tooBig(bytes: number, ifp: NetIf): NetError {
  return new NetError('EMSGSIZE', `udp: ${bytes} bytes do not fit ${ifp.name}'s mtu ${ifp.driver.mtu}`);
}

/** The earlier of two deadlines, 0 meaning none. */
function earlier(a: number, b: number): number {
  return a === 0 ? b : b === 0 ? a : Math.min(a, b);
}

/** FreeBSD's default prefix for an address given without one: the old class A, B or C. */
function classfulPrefix(addr: number): number {
  if (addr >>> 31 === 0) return 8;
  if (addr >>> 30 === 2) return 16;
  return 24;
}
