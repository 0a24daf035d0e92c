/** UDP sockets: a bound port with a bounded receive queue of datagrams, and the datagrams it holds. */
import { formatIp4, ip6, isLinkLocal6, readIp4, type IpAddr } from './addr.js';

/** What a queued datagram costs besides its data (as a socket buffer charges its sockaddr and mbuf header). */
const DATAGRAM_OVERHEAD = 32;

/** One received datagram. Its data is a view into the received frame (no copy). */
export class Datagram {
  private text: string | undefined;
  private addr: IpAddr | undefined;

  constructor(
    readonly data: Uint8Array,
    readonly fromPort: number,
    readonly family: 4 | 6,
    /** The source address: a view of 4 or 16 bytes. */
    private readonly src: Uint8Array,
    /** The interface it came in on. */
    readonly ifname: string,
    /** Virtual ns it arrived. */
    readonly receivedAt: number,
  ) {}

  /** The sender's address as text (`fe80::1%xn0` when link-local); made on first use. */
  get from(): string {
    this.text ??= this.fromAddr.text + (this.fromAddr.family === 6 && this.fromAddr.zone !== undefined ? `%${this.fromAddr.zone}` : '');
    return this.text;
  }

  /** The sender's address, ready to pass back to `udpSend` (no parsing there). */
  get fromAddr(): IpAddr {
    if (this.addr === undefined) {
      if (this.family === 4) {
        const value = readIp4(this.src, 0);
        this.addr = { family: 4, value, text: formatIp4(value) };
      } else this.addr = ip6(this.src, 0, isLinkLocal6(this.src) ? this.ifname : undefined);
    }
    return this.addr;
  }
}

/** What a socket calls back into the stack for. */
export interface UdpSocketHost {
  send(socket: UdpSocket, dst: string | IpAddr, dstPort: number, data: Uint8Array): boolean;
  close(socket: UdpSocket): void;
}

/** A bound UDP port (both IPv4 and IPv6, any local address). */
export class UdpSocket {
  /** Called when the queue goes from empty to not empty (a reader may wake up). */
  onReadable: (() => void) | undefined;
  private queue: (Datagram | undefined)[] = [];
  private head = 0;
  private bytes = 0;
  /** Data bytes plus a per-datagram overhead, checked against rcvbuf (so empty datagrams are bounded too). */
  private charged = 0;
  private open = true;

  constructor(
    readonly port: number,
    /** Bytes of data the receive queue holds at most (FreeBSD's SO_RCVBUF); datagrams beyond it are dropped. */
    readonly rcvbuf: number,
    private readonly host: UdpSocketHost,
  ) {}

  get closed(): boolean {
    return !this.open;
  }

  /** Datagrams waiting. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Bytes of data waiting. */
  get pendingBytes(): number {
    return this.bytes;
  }

  /** The oldest datagram waiting, or undefined. */
  recv(): Datagram | undefined {
    if (this.head === this.queue.length) return undefined;
    const d = this.queue[this.head]!;
    this.queue[this.head++] = undefined;
    this.bytes -= d.data.length;
    this.charged -= d.data.length + DATAGRAM_OVERHEAD;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return d;
  }

  /** Sends `data` from this port (see `NetStack.udpSend`). */
  send(dst: string | IpAddr, dstPort: number, data: Uint8Array): boolean {
    return this.host.send(this, dst, dstPort, data);
  }

  /** Unbinds the port and drops what was waiting. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
    this.charged = 0;
    this.host.close(this);
  }

  /** Queues a datagram (the stack calls this); false when the receive buffer has no room. */
  enqueue(d: Datagram): boolean {
    const charge = d.data.length + DATAGRAM_OVERHEAD;
    if (this.charged + charge > this.rcvbuf) return false;
    const wasEmpty = this.head === this.queue.length;
    this.queue.push(d);
    this.bytes += d.data.length;
    this.charged += charge;
    if (wasEmpty) this.onReadable?.();
    return true;
  }
}
