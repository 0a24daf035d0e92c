/**
 * One RTL8139 NIC (QEMU's rtl8139, PCI 10ec:8139): its registers behind an I/O BAR (and the same 256
 * bytes in a memory BAR), the four transmit descriptors sending into a Dom0 bridge, the receive ring in
 * guest memory filled from the bridge, and IMR/ISR on INTx.
 */
import type { BridgePort, DeviceModelContext, IoRegistration, NetPort, PciDevice } from '../../../core/api/index.js';
import { ioPort, guestPhysAddr } from '../../../core/public/index.js';
import { etherCrc32Be } from './crc.js';
import { ringBytes, ringFree, rxPacket, writeRing } from './rxring.js';
import {
  BMCR_RESET, BMSR_ANEG_COMPLETE, BMSR_BASE, BMSR_LINK, CR, ETHER_HDR, INT, INT_ALL, MSR, RCR, RCR_RBLEN_SHIFT, RTL, RX, TCR_HWVER_8139C, TCR_HWVER_MASK, TCR_LOOPBACK, TSD, TX_MAX,
} from './regs.js';

/** The function's identity as QEMU presents it (revision 0x20; subsystem Red Hat/QEMU). */
export const RTL8139_PCI = { vendorId: 0x10ec, deviceId: 0x8139, classCode: 0x02_00_00, revision: 0x20, subsystemVendorId: 0x1af4, subsystemId: 0x1100 } as const;
/** The largest frame taken from the bridge (1514 and a VLAN tag): the 8139 has no jumbo frames. */
const RX_MAX = 1518;
const TSD_WRITABLE = TSD.SIZE | TSD.OWN | 0x003f_0000;

/** What the NIC counted. */
export interface Rtl8139Stats {
  txFrames: number;
  txBytes: number;
  /** Descriptors aborted (bad size or buffer) and frames sent with no bridge to take them. */
  txErrors: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames the bridge offered that were dropped: receiver off, ring full, too long, ring unwritable. */
  rxDropped: number;
}

/** A 16-bit or smaller register with side effects; the rest of the window is plain bytes. */
interface Reg {
  readonly width: number;
  read(): number;
  write(value: number, mask: number): void;
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** One NIC: a PCI function for the guest and a port of a Dom0 bridge. */
export class Rtl8139 implements NetPort {
  readonly stats: Rtl8139Stats = { txFrames: 0, txBytes: 0, txErrors: 0, rxFrames: 0, rxBytes: 0, rxDropped: 0 };
  private readonly plain = new Uint8Array(256);
  private readonly regs = new Map<number, Reg>();
  private readonly tsd = [0, 0, 0, 0];
  private cr = 0;
  private imr = 0;
  private isr = 0;
  private tcr = 0;
  private rcr = 0;
  private mpc = 0;
  private bmcr = 0x3100;
  /** The driver's read position (CAPR + 16) and the device's write position (CBR), ring offsets. */
  private rxPtr = 0;
  private rxAddr = 0;
  /** Frames taken from the bridge, waiting for the device model's next task to land in the ring. */
  private pending: Uint8Array[] = [];
  private reserved = 0;
  private cancelFlush: (() => void) | undefined;
  private device: PciDevice | undefined;
  private readonly bars: (IoRegistration | undefined)[] = [undefined, undefined];
  private port: BridgePort | undefined;
  private gone = false;

  constructor(
    private readonly ctx: DeviceModelContext,
    /** `tap<domid>.<devid>`: the port's name on the bridge. */
    readonly name: string,
    readonly mac: Uint8Array,
  ) {
    this.defineRegisters();
    this.reset();
    this.device = ctx.pci.register({
      name: 'rtl8139',
      ...RTL8139_PCI,
      interruptPin: 1,
      bars: [
        { kind: 'io', size: 0x100 },
        { kind: 'mmio', size: 0x100 },
      ],
      onBarMapped: (index, address) => this.barMapped(index, address),
    });
  }

  /** Plugs the NIC into a bridge (link up from then on). */
  connect(attach: (port: NetPort) => BridgePort): void {
    this.port = attach(this);
  }

  get linkUp(): boolean {
    return this.port !== undefined && !this.gone;
  }

  /** The PCI function, until the NIC is unplugged or disposed. */
  get pci(): PciDevice | undefined {
    return this.device;
  }

  /** Leaves the bus and the bridge (the unplug, or the guest's end). Idempotent. */
  dispose(): void {
    this.gone = true;
    this.cancelFlush?.();
    this.cancelFlush = undefined;
    this.pending = [];
    this.port?.detach();
    this.port = undefined;
    for (let i = 0; i < this.bars.length; i++) this.bars[i]?.dispose();
    this.bars.fill(undefined);
    const device = this.device;
    this.device = undefined;
    try {
      device?.unregister();
    } catch {
      // Lowering INTx needs the guest's ioreq server, which is gone when the domain died first.
    }
  }

  dump(): string {
    const s = this.stats;
    return `${this.name} ${[...this.mac].map((b) => b.toString(16).padStart(2, '0')).join(':')} link ${this.linkUp ? 'up' : 'down'} cr ${hex(this.cr)} isr ${hex(this.isr)}/${hex(this.imr)} rx ${s.rxFrames} (${s.rxDropped} dropped) tx ${s.txFrames} (${s.txErrors} errors)`;
  }

  // --- the bridge's side ----------------------------------------------------------------------------

  /**
   * A frame from the bridge: filtered by RCR, room reserved in the ring now (false and counted when the
   * ring is full or the receiver is off), written into guest memory by a Dom0 task of this model.
   */
  deliver(frame: Uint8Array): boolean {
    if (this.gone || !(this.cr & CR.RE) || frame.length < ETHER_HDR || frame.length > RX_MAX) {
      this.stats.rxDropped++;
      return false;
    }
    if (!this.accepts(frame)) return true;
    const need = ringBytes(frame.length);
    if (need >= ringFree(this.rxPtr, this.rxAddr, this.ringSize) - this.reserved) {
      this.stats.rxDropped++;
      this.mpc = (this.mpc + 1) >>> 0;
      this.raise(INT.RXOVW);
      return false;
    }
    this.pending.push(frame.slice());
    this.reserved += need;
    this.cancelFlush ??= this.ctx.timer(this.ctx.now(), () => this.flushRx());
    return true;
  }

  private flushRx(): void {
    this.cancelFlush = undefined;
    const frames = this.pending;
    this.pending = [];
    this.reserved = 0;
    let got = 0;
    for (const frame of frames) {
      const need = ringBytes(frame.length);
      if (!(this.cr & CR.RE) || need >= ringFree(this.rxPtr, this.rxAddr, this.ringSize)) {
        this.stats.rxDropped++;
        continue;
      }
      const packet = rxPacket(frame, this.rxStatus(frame));
      try {
        writeRing(this.ctx.memory, this.rbstart, this.ringSize, this.rxAddr, packet, (this.rcr & RCR.WRAP) !== 0);
      } catch (error) {
        this.stats.rxDropped++;
        this.ctx.warn(`${this.name}: receive ring at ${hex(this.rbstart)} (+${hex(this.rxAddr)}) is not in guest memory: frame dropped (${message(error)})`);
        this.raise(INT.RER);
        continue;
      }
      this.ctx.charge('copyPerByte', packet.length);
      this.rxAddr = (this.rxAddr + need) % this.ringSize;
      this.stats.rxFrames++;
      this.stats.rxBytes += frame.length;
      got++;
    }
    if (got > 0) this.raise(INT.ROK);
  }

  private accepts(frame: Uint8Array): boolean {
    if (this.rcr & RCR.AAP) return true;
    if (frame.subarray(0, 6).every((b) => b === 0xff)) return (this.rcr & RCR.AB) !== 0;
    if (frame[0]! & 1) {
      const bit = etherCrc32Be(frame, 0, 6) >>> 26;
      return (this.rcr & RCR.AM) !== 0 && (this.plain[RTL.MAR0 + (bit >> 3)]! & (1 << (bit & 7))) !== 0;
    }
    return (this.rcr & RCR.APM) !== 0 && this.mac.every((b, i) => frame[i] === b);
  }

  private rxStatus(frame: Uint8Array): number {
    if (frame.subarray(0, 6).every((b) => b === 0xff)) return RX.ROK | RX.BAR;
    if (frame[0]! & 1) return RX.ROK | RX.MAR;
    return RX.ROK | (this.mac.every((b, i) => frame[i] === b) ? RX.PAM : 0);
  }

  // --- transmit -------------------------------------------------------------------------------------

  private transmit(i: number): void {
    const size = this.tsd[i]! & TSD.SIZE;
    if (!(this.cr & CR.TE)) {
      this.ctx.warn(`${this.name}: TSD${i} kicked with the transmitter disabled (CR ${hex(this.cr)}): ignored`);
      return;
    }
    if (size < ETHER_HDR || size > TX_MAX) return this.txAbort(i, `frame size ${size} is outside ${ETHER_HDR}-${TX_MAX}`);
    const addr = this.u32(RTL.TSAD0 + 4 * i);
    let frame: Uint8Array;
    try {
      frame = this.ctx.memory.read(guestPhysAddr(addr), size);
    } catch (error) {
      return this.txAbort(i, `buffer ${hex(addr)} (+${size}) is not in guest memory (${message(error)})`);
    }
    this.ctx.charge('copyPerByte', size);
    if ((this.tcr & TCR_LOOPBACK) === TCR_LOOPBACK) this.deliver(frame);
    else if (this.port !== undefined) this.port.send(frame);
    else this.stats.txErrors++;
    this.stats.txFrames++;
    this.stats.txBytes += size;
    this.tsd[i] = (this.tsd[i]! & (TSD.SIZE | 0x003f_0000)) | TSD.OWN | TSD.TOK;
    this.raise(INT.TOK);
  }

  private txAbort(i: number, reason: string): void {
    this.stats.txErrors++;
    this.tsd[i] = (this.tsd[i]! & TSD.SIZE) | TSD.OWN | TSD.TABT;
    this.ctx.warn(`${this.name}: TSD${i}: ${reason}: frame dropped`);
    this.raise(INT.TER);
  }

  // --- registers ------------------------------------------------------------------------------------

  private get ringSize(): number {
    return 8192 << ((this.rcr >>> RCR_RBLEN_SHIFT) & 3);
  }

  private get rbstart(): number {
    return this.u32(RTL.RBSTART);
  }

  private u32(at: number): number {
    return (this.plain[at]! | (this.plain[at + 1]! << 8) | (this.plain[at + 2]! << 16) | (this.plain[at + 3]! << 24)) >>> 0;
  }

  private raise(bits: number): void {
    this.isr |= bits;
    this.updateIrq();
  }

  private updateIrq(): void {
    const intx = this.device?.intx;
    if (intx === undefined) return;
    if (this.isr & this.imr) intx.assert();
    else intx.deassert();
  }

  /** CR.RST: registers to their power-on values, the MAC reloaded, the ring and descriptors emptied. */
  private reset(): void {
    this.plain.set(this.mac, RTL.IDR0);
    this.plain.fill(0, RTL.TSAD0, RTL.TSAD0 + 16);
    this.plain.fill(0, RTL.RBSTART, RTL.RBSTART + 4);
    this.tsd.fill(TSD.OWN);
    this.cr = 0;
    this.imr = 0;
    this.isr = 0;
    this.tcr = 0;
    this.rcr = 0;
    this.rxPtr = this.rxAddr = 0;
    this.pending = [];
    this.reserved = 0;
    this.updateIrq();
  }

  private defineRegisters(): void {
    const def = (at: number, width: number, read: () => number, write: (value: number, mask: number) => void = () => undefined): void => void this.regs.set(at, { width, read, write });
    for (let i = 0; i < 4; i++) {
      def(RTL.TSD0 + 4 * i, 4, () => this.tsd[i]!, (v, mask) => {
        this.tsd[i] = ((this.tsd[i]! & ~TSD_WRITABLE) | (v & TSD_WRITABLE)) >>> 0;
        if (mask & 0xffff && !(v & TSD.OWN)) this.transmit(i);
      });
    }
    def(RTL.CR, 1, () => (this.cr & (CR.RE | CR.TE)) | (this.rxPtr === this.rxAddr ? CR.BUFE : 0), (v) => (v & CR.RST ? this.reset() : void (this.cr = v & (CR.RE | CR.TE))));
    def(RTL.CAPR, 2, () => (this.rxPtr - 16) & 0xffff, (v) => void (this.rxPtr = (v + 16) % this.ringSize));
    def(RTL.CBR, 2, () => this.rxAddr);
    def(RTL.IMR, 2, () => this.imr, (v) => ((this.imr = v & INT_ALL), this.updateIrq()));
    def(RTL.ISR, 2, () => this.isr, (v, mask) => ((this.isr &= ~(v & mask)), this.updateIrq()));
    def(RTL.TCR, 4, () => ((this.tcr & ~TCR_HWVER_MASK) | TCR_HWVER_8139C) >>> 0, (v) => void (this.tcr = v & ~TCR_HWVER_MASK));
    // QEMU's RxConfig write: the ring restarts at offset 0 with the size RBLEN says.
    def(RTL.RCR, 4, () => this.rcr, (v) => void ((this.rcr = v >>> 0), (this.rxPtr = this.rxAddr = 0)));
    def(RTL.MPC, 4, () => this.mpc, () => void (this.mpc = 0));
    def(RTL.MSR, 1, () => (this.linkUp ? 0 : MSR.LINKB));
    def(RTL.TSAD, 2, () => this.tsd.reduce((sum, t, i) => sum | (t & TSD.TOK ? 1 << (12 + i) : 0) | (t & TSD.TUN ? 1 << (8 + i) : 0) | (t & TSD.TABT ? 1 << (4 + i) : 0) | (t & TSD.OWN ? 1 << i : 0), 0));
    def(RTL.BMCR, 2, () => this.bmcr, (v) => void (this.bmcr = v & BMCR_RESET ? 0x3100 : v & 0xffff));
    def(RTL.BMSR, 2, () => BMSR_BASE | BMSR_ANEG_COMPLETE | (this.linkUp ? BMSR_LINK : 0));
    def(RTL.ANLPAR, 2, () => (this.linkUp ? 0x45e1 : 0));
  }

  /** A read of `size` bytes at `offset`, register by register. */
  read(offset: number, size: number): number {
    let value = 0;
    for (let o = offset; o < offset + size; ) {
      const [at, reg] = this.regAt(o);
      if (reg === undefined) {
        value += this.plain[o]! * 2 ** (8 * (o - offset));
        o++;
        continue;
      }
      const end = Math.min(at + reg.width, offset + size);
      const piece = Math.floor(reg.read() / 2 ** (8 * (o - at))) % 2 ** (8 * (end - o));
      value += piece * 2 ** (8 * (o - offset));
      o = end;
    }
    return value;
  }

  /** A write of `size` bytes at `offset`: each register it covers sees its merged new value and the bytes written. */
  write(offset: number, size: number, value: number): void {
    for (let o = offset; o < offset + size; ) {
      const byte = (at: number): number => Math.floor(value / 2 ** (8 * (at - offset))) & 0xff;
      const [at, reg] = this.regAt(o);
      if (reg === undefined) {
        this.plain[o] = byte(o);
        o++;
        continue;
      }
      const end = Math.min(at + reg.width, offset + size);
      let merged = reg.read();
      let mask = 0;
      for (let b = o; b < end; b++) {
        const shift = 8 * (b - at);
        merged = (merged & ~(0xff << shift)) | (byte(b) << shift);
        mask |= 0xff << shift;
      }
      reg.write(merged >>> 0, mask >>> 0);
      o = end;
    }
  }

  private regAt(o: number): [number, Reg | undefined] {
    for (let at = o; at > o - 4 && at >= 0; at--) {
      const reg = this.regs.get(at);
      if (reg !== undefined && o < at + reg.width) return [at, reg];
    }
    return [o, undefined];
  }

  private barMapped(index: number, address: number | undefined): void {
    this.bars[index]?.dispose();
    this.bars[index] = undefined;
    if (address === undefined || this.gone) return;
    const handler = { read: (o: number, s: number) => this.read(o, s), write: (o: number, s: number, v: number) => this.write(o, s, v) };
    this.bars[index] = index === 0 ? this.ctx.io.registerPorts(ioPort(address), 0x100, handler) : this.ctx.io.registerMmio(guestPhysAddr(address), 0x100, handler);
  }
}
