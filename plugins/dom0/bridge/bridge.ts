/**
 * One software bridge: a learning Ethernet switch (as Linux's bridge, which `vif-bridge` joins vifs to).
 * It learns each frame's source MAC on the port it came in by, sends a unicast frame to the port its
 * destination was learnt on (or drops it if that is the port it came from), and floods broadcast,
 * multicast and unknown unicast to every other port. Entries age out by virtual time.
 */
import { GuestError, type Bridge, type BridgePort, type BridgeStats, type Logger, type NetPort } from '../../../core/api/index.js';
import type { PcapWriter } from './pcap.js';

const ETHER_HDR_LEN = 14;
/** Header beyond the MTU a frame may carry: Ethernet header and one VLAN tag. */
const ETHER_OVERHEAD = 18;
/** Entries a bridge learns at most; past it, new MACs are not learnt (their frames flood). */
export const MAX_LEARNT_MACS = 8192;
/** A port that keeps throwing is logged on its first failure and then every this many. */
const THROW_LOG_EVERY = 1024;

export interface LearningBridgeOptions {
  name: string;
  mtu: number;
  /** Virtual ns a learnt MAC is kept without a frame from it. */
  ageingNs: number;
  /** Virtual time, ns. */
  now: () => number;
  log: Logger;
  pcap?: PcapWriter;
}

interface Learnt {
  port: Plug;
  /** Virtual ns of the last frame from this MAC. */
  seen: number;
}

/** A port's place on the bridge. */
class Plug implements BridgePort {
  attached = true;
  failures = 0;

  constructor(
    readonly bridge: LearningBridge,
    readonly port: NetPort,
  ) {}

  send(frame: Uint8Array): void {
    this.bridge.forward(this, frame);
  }

  detach(): void {
    this.bridge.unplug(this);
  }
}

export class LearningBridge implements Bridge {
  readonly name: string;
  private readonly counters = { received: 0, delivered: 0, dropped: 0, malformed: 0 };
  private readonly table = new Map<number, Learnt>();
  /** The plugged ports in attach order; replaced (never mutated) so a delivery loop can run while ports come and go. */
  private plugs: readonly Plug[] = [];
  private pcap: PcapWriter | undefined;
  private readonly maxFrame: number;

  constructor(private readonly options: LearningBridgeOptions) {
    this.name = options.name;
    this.maxFrame = options.mtu + ETHER_OVERHEAD;
    this.pcap = options.pcap;
  }

  get stats(): BridgeStats {
    return { ...this.counters };
  }

  get pcapPath(): string | undefined {
    return this.options.pcap?.path;
  }

  attach(port: NetPort): BridgePort {
    if (this.plugs.some((p) => p.port.name === port.name)) throw new GuestError('EEXIST', `bridge ${this.name}: a port named ${port.name} is attached already`);
    const plug = new Plug(this, port);
    this.plugs = [...this.plugs, plug];
    return plug;
  }

  ports(): string[] {
    return this.plugs.map((p) => p.port.name);
  }

  macs(): ReadonlyMap<string, string> {
    const now = this.options.now();
    const out = new Map<string, string>();
    for (const [key, e] of this.table) if (now - e.seen < this.options.ageingNs) out.set(formatMacKey(key), e.port.port.name);
    return out;
  }

  /** Writes the buffered pcap records to the file. */
  flush(): void {
    try {
      this.pcap?.flush();
    } catch (error) {
      this.captureFailed(error);
    }
  }

  /** Flushes and closes the pcap file; the bridge forwards without capturing afterwards. */
  close(): void {
    const pcap = this.pcap;
    this.pcap = undefined;
    try {
      pcap?.close();
    } catch (error) {
      this.options.log.error(`bridge ${this.name}: pcap ${pcap?.path}: ${messageOf(error)}`);
    }
  }

  /** A frame from `from`: learn its source, then deliver, flood or drop it. */
  forward(from: Plug, frame: Uint8Array): void {
    const c = this.counters;
    c.received++;
    if (!from.attached) {
      c.dropped++;
      return;
    }
    if (frame.length < ETHER_HDR_LEN || frame.length > this.maxFrame || (frame[6]! & 1) === 1) {
      c.malformed++;
      return;
    }
    const now = this.options.now();
    this.learn(macKeyAt(frame, 6), from, now);
    if ((frame[0]! & 1) === 0) {
      const key = macKeyAt(frame, 0);
      const to = this.table.get(key);
      if (to !== undefined && now - to.seen < this.options.ageingNs) {
        if (to.port === from) {
          c.dropped++;
          return;
        }
        this.capture(frame, now);
        this.deliver(to.port, frame);
        return;
      }
      if (to !== undefined) this.table.delete(key);
    }
    const plugs = this.plugs;
    if (plugs.length < 2) {
      c.dropped++;
      return;
    }
    this.capture(frame, now);
    for (const plug of plugs) if (plug !== from && plug.attached) this.deliver(plug, frame);
  }

  /** Unplugs `plug` and forgets the MACs learnt on it. */
  unplug(plug: Plug): void {
    if (!plug.attached) return;
    plug.attached = false;
    this.plugs = this.plugs.filter((p) => p !== plug);
    for (const [key, e] of this.table) if (e.port === plug) this.table.delete(key);
  }

  private learn(key: number, port: Plug, now: number): void {
    const e = this.table.get(key);
    if (e !== undefined) {
      e.port = port;
      e.seen = now;
      return;
    }
    if (this.options.ageingNs === 0) return;
    if (this.table.size >= MAX_LEARNT_MACS) {
      for (const [k, old] of this.table) if (now - old.seen >= this.options.ageingNs) this.table.delete(k);
      if (this.table.size >= MAX_LEARNT_MACS) return;
    }
    this.table.set(key, { port, seen: now });
  }

  private deliver(plug: Plug, frame: Uint8Array): void {
    let taken: boolean;
    try {
      taken = plug.port.deliver(frame);
    } catch (error) {
      this.counters.dropped++;
      if (plug.failures++ % THROW_LOG_EVERY === 0) {
        this.options.log.error(`bridge ${this.name}: port ${plug.port.name} failed to take a frame (${plug.failures} so far): ${messageOf(error)}`);
      }
      return;
    }
    if (taken) this.counters.delivered++;
    else this.counters.dropped++;
  }

  private capture(frame: Uint8Array, now: number): void {
    if (this.pcap === undefined) return;
    try {
      this.pcap.write(frame, now);
    } catch (error) {
      this.captureFailed(error);
    }
  }

  private captureFailed(error: unknown): void {
    this.options.log.error(`bridge ${this.name}: pcap ${this.pcap?.path}: ${messageOf(error)}; capture stopped`);
    this.close();
  }
}

/** A MAC as a number below 2^48. */
function macKeyAt(frame: Uint8Array, offset: number): number {
  return (frame[offset]! * 0x10000 + ((frame[offset + 1]! << 8) | frame[offset + 2]!)) * 0x1000000 + ((frame[offset + 3]! << 16) | (frame[offset + 4]! << 8) | frame[offset + 5]!);
}

function formatMacKey(key: number): string {
  return key.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
