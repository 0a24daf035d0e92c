/**
 * The RealTek 8139 driver's data path (FreeBSD's if_rl.c): reset and set-up, the receive ring drained
 * into the network stack on the interrupt, and the four transmit descriptors — `transmit` copies a
 * frame into a buffer (a memory write, no exit) and the kick (one TSD write) follows from the idle
 * loop or the interrupt handler, where the driver may do port I/O.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';
import { PAGE_SIZE } from '../../../../../core/public/index.js';
import type { Kernel } from '../../kern/kernel.js';
import { emptyIfnetStats, type IfnetDriver, type IfnetStats } from '../../net/if.js';
import {
  ETHER_CRC_LEN, RL_CMD_RESET, RL_CMD_RX_ENB, RL_CMD_TX_ENB, RL_COMMAND, RL_CURRXADDR, RL_CURRXBUF, RL_IDR0, RL_IMR, RL_INTRS, RL_ISR, RL_ISR_PKT_UNDERRUN,
  RL_ISR_RX_ERR, RL_ISR_RX_OK, RL_ISR_RX_OVERRUN, RL_ISR_FIFO_OFLOW, RL_ISR_TX_ERR, RL_ISR_TX_OK, RL_MAR0, RL_MAR4, RL_MAX_FRAMELEN, RL_MEDIASTAT, RL_MEDIASTAT_LINKB, RL_MIN_FRAMELEN,
  RL_RXADDR, RL_RXBUFLEN, RL_RXBUF_32, RL_RXCFG, RL_RXCFG_CONFIG, RL_RXCFG_RX_BROAD, RL_RXCFG_RX_INDIV, RL_RXCFG_RX_MULTI, RL_RXSTAT_RXOK, RL_TXADDR0, RL_TXCFG, RL_TXCFG_CONFIG,
  RL_TXSTAT0, RL_TXSTAT_OWN, RL_TXSTAT_TXABRT, RL_TXSTAT_TX_OK, RL_TXSTAT_TX_UNDERRUN, RL_TX_LIST_CNT,
} from './if_rlreg.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** Reset polls before the chip is declared dead (FreeBSD's RL_TIMEOUT). */
const RL_TIMEOUT = 1000;
/** ISR rounds per interrupt before the handler lets go (an interrupt storm must not starve the kernel). */
const MAX_INTR_ROUNDS = 16;
const TX_BUF = 2048;

/**
 * Takes `pages` physically contiguous frames (the receive ring is one DMA buffer): the allocator hands
 * out the lowest free frame each time, so frames are taken until the last `pages` of them form a run,
 * and the others are given back.
 */
export function allocContiguous(k: Kernel, pages: number): number {
  const taken: number[] = [];
  for (;;) {
    taken.push(k.phys.allocate());
    const n = taken.length;
    if (n >= pages && taken[n - 1]! - taken[n - pages]! === pages - 1) {
      for (const f of taken.slice(0, n - pages)) k.phys.release(f);
      return taken[n - pages]!;
    }
  }
}

/** One 8139's driver state (FreeBSD's rl_softc) and its side of the network stack. */
export class RlSoftc implements IfnetDriver {
  readonly mtu = 1500;
  readonly stats: IfnetStats = emptyIfnetStats();
  readonly mac = new Uint8Array(6);
  /** Interrupts handled, and VM exits (port accesses) the driver made. */
  interrupts = 0;
  portAccesses = 0;
  private link = false;
  private rxRing = 0;
  /** Offset in the ring of the next packet to read. */
  private rxCur = 0;
  private readonly txBufs: number[] = [];
  private txProd = 0;
  private txCons = 0;
  private readonly txLen: number[] = new Array<number>(RL_TX_LIST_CNT).fill(0);
  /** Descriptors filled by `transmit` and not yet handed to the chip. */
  private readonly kicks: number[] = [];

  constructor(
    private readonly k: Kernel,
    /** `rl0`. */
    readonly name: string,
    /** Base of the I/O BAR. */
    private readonly io: number,
  ) {}

  get up(): boolean {
    return this.link;
  }

  /** True when filled descriptors wait for their kick. */
  get kickPending(): boolean {
    return this.kicks.length > 0;
  }

  private *in(v: VcpuApi, reg: number, size: 1 | 2 | 4): Gen<number> {
    this.portAccesses++;
    return yield* v.inPort(this.io + reg, size);
  }

  private *out(v: VcpuApi, reg: number, size: 1 | 2 | 4, value: number): Gen {
    this.portAccesses++;
    yield* v.outPort(this.io + reg, size, value);
  }

  /** rl_reset, the MAC from IDR0-5, then rl_init: ring and buffers, receive filter (all multicast), interrupts. */
  *init(v: VcpuApi): Gen {
    yield* this.out(v, RL_COMMAND, 1, RL_CMD_RESET);
    let i = 0;
    for (; i < RL_TIMEOUT; i++) if (!((yield* this.in(v, RL_COMMAND, 1)) & RL_CMD_RESET)) break;
    if (i === RL_TIMEOUT) throw new Error(`${this.name}: reset never completed`);
    const low = yield* this.in(v, RL_IDR0, 4);
    const high = yield* this.in(v, RL_IDR0 + 4, 2);
    this.mac.set([low & 0xff, (low >>> 8) & 0xff, (low >>> 16) & 0xff, low >>> 24, high & 0xff, high >>> 8]);

    this.rxRing = allocContiguous(this.k, Math.ceil((RL_RXBUFLEN + 16) / PAGE_SIZE)) * PAGE_SIZE;
    for (let p = 0; p < (RL_TX_LIST_CNT * TX_BUF) / PAGE_SIZE; p++) {
      const page = this.k.phys.allocate() * PAGE_SIZE;
      for (let b = 0; b < PAGE_SIZE / TX_BUF; b++) this.txBufs.push(page + b * TX_BUF);
    }
    yield* this.out(v, RL_RXADDR, 4, this.rxRing);
    for (const [d, addr] of this.txBufs.entries()) yield* this.out(v, RL_TXADDR0 + 4 * d, 4, addr);
    yield* this.out(v, RL_COMMAND, 1, RL_CMD_TX_ENB | RL_CMD_RX_ENB);
    yield* this.out(v, RL_RXCFG, 4, RL_RXCFG_CONFIG | RL_RXBUF_32 | RL_RXCFG_RX_INDIV | RL_RXCFG_RX_MULTI | RL_RXCFG_RX_BROAD);
    yield* this.out(v, RL_TXCFG, 4, RL_TXCFG_CONFIG);
    // Every multicast group: IPv6 neighbour discovery needs the solicited-node groups.
    yield* this.out(v, RL_MAR0, 4, 0xffff_ffff);
    yield* this.out(v, RL_MAR4, 4, 0xffff_ffff);
    this.rxCur = 0;
    yield* this.out(v, RL_IMR, 2, RL_INTRS);
    this.link = ((yield* this.in(v, RL_MEDIASTAT, 1)) & RL_MEDIASTAT_LINKB) === 0;
  }

  /** rl_start: copies the frame (padded to 60 bytes) into the next free descriptor's buffer; false when all four are in use. */
  transmit(frame: Uint8Array): boolean {
    if (!this.link || frame.length < 14 || frame.length > this.mtu + 14 + 4 || this.txProd - this.txCons >= RL_TX_LIST_CNT) {
      this.stats.oerrors++;
      return false;
    }
    const slot = this.txProd % RL_TX_LIST_CNT;
    const length = Math.max(frame.length, RL_MIN_FRAMELEN);
    const padded = frame.length >= RL_MIN_FRAMELEN ? frame : new Uint8Array(RL_MIN_FRAMELEN);
    if (padded !== frame) padded.set(frame);
    this.k.v.memory.write(this.txBufs[slot]!, padded);
    this.txLen[slot] = length;
    this.txProd++;
    this.kicks.push(slot);
    return true;
  }

  /** Hands the filled descriptors to the chip: one TSD write each. */
  *kick(v: VcpuApi): Gen<boolean> {
    const any = this.kicks.length > 0;
    while (this.kicks.length > 0) {
      const slot = this.kicks.shift()!;
      yield* this.out(v, RL_TXSTAT0 + 4 * slot, 4, this.txLen[slot]!);
    }
    return any;
  }

  /** rl_intr: acknowledge, drain the receive ring, reclaim sent descriptors, kick what is queued. */
  *intr(v: VcpuApi): Gen {
    this.interrupts++;
    for (let round = 0; round < MAX_INTR_ROUNDS; round++) {
      const status = yield* this.in(v, RL_ISR, 2);
      if (status === 0xffff || (status & RL_INTRS) === 0) break;
      yield* this.out(v, RL_ISR, 2, status);
      if (status & (RL_ISR_RX_OK | RL_ISR_RX_ERR | RL_ISR_RX_OVERRUN | RL_ISR_FIFO_OFLOW)) yield* this.rxeof(v);
      if (status & (RL_ISR_TX_OK | RL_ISR_TX_ERR)) yield* this.txeof(v);
      if (status & RL_ISR_PKT_UNDERRUN) this.link = ((yield* this.in(v, RL_MEDIASTAT, 1)) & RL_MEDIASTAT_LINKB) === 0;
    }
    yield* this.kick(v);
  }

  /** rl_rxeof: every packet up to the chip's write offset (CBR), then one CAPR write for all of them. */
  private *rxeof(v: VcpuApi): Gen {
    const end = yield* this.in(v, RL_CURRXBUF, 2);
    if (end === this.rxCur) return; // the chip never fills the ring completely: equal offsets mean empty
    const m = v.memory;
    let cur = this.rxCur;
    while (cur !== end) {
      const header = m.readU32(this.rxRing + cur);
      const status = header & 0xffff;
      const total = header >>> 16;
      if (!(status & RL_RXSTAT_RXOK) || total < RL_MIN_FRAMELEN + ETHER_CRC_LEN || total > RL_MAX_FRAMELEN) {
        // A packet the driver cannot make sense of: give up on what is in the ring (FreeBSD reinitialises).
        this.stats.ierrors++;
        cur = end;
        break;
      }
      const length = total - ETHER_CRC_LEN;
      const start = (cur + 4) % RL_RXBUFLEN;
      const first = Math.min(length, RL_RXBUFLEN - start);
      const frame = new Uint8Array(length);
      frame.set(m.read(this.rxRing + start, first));
      if (first < length) frame.set(m.read(this.rxRing, length - first), first);
      cur = (cur + total + 4 + 3) & ~3 & (RL_RXBUFLEN - 1);
      this.stats.ipackets++;
      this.stats.ibytes += length;
      this.k.netInput?.(this.name, frame);
    }
    this.rxCur = cur;
    yield* this.out(v, RL_CURRXADDR, 2, (cur - 16) & 0xffff);
  }

  /** rl_txeof: descriptors the chip finished, oldest first. */
  private *txeof(v: VcpuApi): Gen {
    while (this.txCons < this.txProd) {
      const slot = this.txCons % RL_TX_LIST_CNT;
      if (this.kicks.includes(slot)) break;
      const status = yield* this.in(v, RL_TXSTAT0 + 4 * slot, 4);
      if (!(status & (RL_TXSTAT_TX_OK | RL_TXSTAT_TX_UNDERRUN | RL_TXSTAT_TXABRT)) || !(status & RL_TXSTAT_OWN)) break;
      if (status & RL_TXSTAT_TX_OK) {
        this.stats.opackets++;
        this.stats.obytes += this.txLen[slot]!;
      } else this.stats.oerrors++;
      this.txCons++;
    }
  }
}
