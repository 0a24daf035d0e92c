/**
 * A 16550A UART (QEMU's hw/char/serial.c behaviour): RBR/THR, IER, IIR/FCR with 16-byte FIFOs, LCR with
 * the divisor latch, MCR with loopback, LSR, MSR and SCR; RDA, character-timeout, THRE, line-status and
 * modem-status interrupts on its ISA IRQ. Transmission is immediate (the line never pushes back); input
 * waits outside the receive FIFO until there is room, as a chardev with flow control does.
 */
import type { DeviceModelContext, EmulatedDevice, InterruptLine, IoRegistration, SerialLine } from '../../../core/api/index.js';
import { ioPort } from '../../../core/public/index.js';

/** Register offsets from the port base. */
export const UART_REG = { rbrThr: 0, ier: 1, iirFcr: 2, lcr: 3, mcr: 4, lsr: 5, msr: 6, scr: 7 } as const;
export const IER = { rdi: 0x01, thri: 0x02, rlsi: 0x04, msi: 0x08 } as const;
export const IIR = { noInt: 0x01, msi: 0x00, thri: 0x02, rdi: 0x04, rlsi: 0x06, cti: 0x0c, fifoEnabled: 0xc0 } as const;
export const FCR = { enable: 0x01, clearRx: 0x02, clearTx: 0x04 } as const;
export const LCR_DLAB = 0x80;
export const MCR = { dtr: 0x01, rts: 0x02, out1: 0x04, out2: 0x08, loop: 0x10 } as const;
export const LSR = { dr: 0x01, oe: 0x02, pe: 0x04, fe: 0x08, bi: 0x10, thre: 0x20, temt: 0x40 } as const;
export const MSR = { dcts: 0x01, ddsr: 0x02, teri: 0x04, ddcd: 0x08, cts: 0x10, dsr: 0x20, ri: 0x40, dcd: 0x80 } as const;

const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14] as const;
/** The UART's input clock divided by 16: the baud rate at divisor 1. */
const BASE_BAUD = 115_200;
/** Bytes typed but not yet taken into the receive FIFO beyond which input is dropped. */
const BACKLOG_LIMIT = 1 << 16;

/** One UART at `base` raising ISA IRQ `irq`. */
export class Uart16550 implements EmulatedDevice {
  private rx: number[] = [];
  private backlog: number[] = [];
  private ier = 0;
  private fcr = 0;
  private lcr = 0;
  private mcr: number = MCR.out2;
  private lsr: number = LSR.thre | LSR.temt;
  private msr: number = MSR.dcd | MSR.dsr | MSR.cts;
  private scr = 0;
  private divisor = 12;
  private thrIpending = false;
  private timeoutIpending = false;
  private cancelTimeout: (() => void) | undefined;
  private readonly irq: InterruptLine;
  private readonly ports: IoRegistration;
  private readonly unlisten: () => void;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  /** Bytes sent (transmitted or looped back). */
  transmitted = 0;

  constructor(
    private readonly ctx: DeviceModelContext,
    readonly base: number,
    irq: number,
    private readonly line: SerialLine | undefined,
  ) {
    this.irq = ctx.isaIrq(irq);
    this.ports = ctx.io.registerPorts(ioPort(base), 8, { read: (o) => this.read(o), write: (o, _s, v) => this.write(o, v & 0xff) });
    this.unlisten = line?.onInput((text) => this.receive(this.encoder.encode(text))) ?? (() => {});
  }

  get fifoEnabled(): boolean {
    return (this.fcr & FCR.enable) !== 0;
  }

  /** The baud rate the divisor latch gives. */
  get baud(): number {
    return this.divisor === 0 ? 0 : BASE_BAUD / this.divisor;
  }

  /** Bytes from the outside world arrive on the line (loopback sends here too). */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) {
      if (this.backlog.length >= BACKLOG_LIMIT) {
        this.ctx.warn(`uart 0x${this.base.toString(16)}: input backlog full, ${bytes.length} bytes dropped`);
        break;
      }
      this.backlog.push(b);
    }
    this.fill();
  }

  read(offset: number): number {
    switch (offset) {
      case UART_REG.rbrThr: {
        if (this.lcr & LCR_DLAB) return this.divisor & 0xff;
        const byte = this.rx.shift() ?? 0;
        this.timeoutIpending = false;
        if (this.rx.length === 0) this.lsr &= ~(LSR.dr | LSR.bi);
        this.fill();
        this.update();
        return byte;
      }
      case UART_REG.ier:
        return this.lcr & LCR_DLAB ? (this.divisor >> 8) & 0xff : this.ier;
      case UART_REG.iirFcr: {
        const iir = this.iir();
        if ((iir & 0x0f) === IIR.thri) {
          this.thrIpending = false;
          this.update();
        }
        return iir | (this.fifoEnabled ? IIR.fifoEnabled : 0);
      }
      case UART_REG.lcr:
        return this.lcr;
      case UART_REG.mcr:
        return this.mcr;
      case UART_REG.lsr: {
        const lsr = this.lsr;
        // Errors and break are reported once.
        this.lsr &= ~(LSR.oe | LSR.pe | LSR.fe | LSR.bi);
        if (lsr !== this.lsr) this.update();
        return lsr;
      }
      case UART_REG.msr: {
        const msr = this.mcr & MCR.loop ? this.loopbackMsr() : this.msr;
        this.msr &= 0xf0;
        this.update();
        return msr;
      }
      default:
        return this.scr;
    }
  }

  write(offset: number, value: number): void {
    switch (offset) {
      case UART_REG.rbrThr:
        if (this.lcr & LCR_DLAB) this.divisor = (this.divisor & 0xff00) | value;
        else this.transmit(value);
        return;
      case UART_REG.ier:
        if (this.lcr & LCR_DLAB) {
          this.divisor = (this.divisor & 0x00ff) | (value << 8);
          return;
        }
        // Enabling THRI with the holder empty interrupts at once (serial.c: thr_ipending on the 0→1 edge).
        if (value & IER.thri && !(this.ier & IER.thri) && this.lsr & LSR.thre) this.thrIpending = true;
        this.ier = value & 0x0f;
        this.update();
        return;
      case UART_REG.iirFcr:
        this.writeFcr(value);
        return;
      case UART_REG.lcr:
        this.lcr = value;
        return;
      case UART_REG.mcr:
        this.mcr = value & 0x1f;
        return;
      case UART_REG.lsr:
      case UART_REG.msr:
        return; // Read-only (factory test registers on real parts).
      default:
        this.scr = value;
    }
  }

  dump(): string {
    return `0x${this.base.toString(16)} ier=${this.ier.toString(16)} lcr=${this.lcr.toString(16)} mcr=${this.mcr.toString(16)} lsr=${this.lsr.toString(16)} rx=${this.rx.length} backlog=${this.backlog.length} baud=${this.baud} tx=${this.transmitted}`;
  }

  dispose(): void {
    this.unlisten();
    this.cancelTimeout?.();
    if (this.irq.asserted) this.irq.deassert();
    this.ports.dispose();
  }

  private transmit(byte: number): void {
    this.transmitted++;
    if (this.mcr & MCR.loop) this.receive(Uint8Array.of(byte));
    else this.line?.write(this.decoder.decode(Uint8Array.of(byte), { stream: true }));
    this.lsr |= LSR.thre | LSR.temt;
    this.thrIpending = true;
    this.update();
  }

  private writeFcr(value: number): void {
    const enable = (value & FCR.enable) !== 0;
    if (enable !== this.fifoEnabled || value & FCR.clearRx) {
      // Changing the FIFO mode clears both FIFOs (serial.c), as does the clear bit.
      this.rx = [];
      this.lsr &= ~(LSR.dr | LSR.bi);
      this.timeoutIpending = false;
    }
    this.fcr = value & 0xc9;
    this.fill();
    this.update();
  }

  /** Moves waiting input into the receive FIFO (1 byte deep with the FIFO off). */
  private fill(): void {
    const depth = this.fifoEnabled ? FIFO_SIZE : 1;
    let moved = false;
    while (this.backlog.length > 0 && this.rx.length < depth) {
      this.rx.push(this.backlog.shift()!);
      moved = true;
    }
    if (this.rx.length > 0) this.lsr |= LSR.dr;
    if (moved) {
      this.armTimeout();
      this.update();
    }
  }

  /** Character timeout: data below the trigger level for 4 character times raises CTI. */
  private armTimeout(): void {
    if (!this.fifoEnabled) return;
    this.cancelTimeout?.();
    const charNs = this.baud === 0 ? 1e6 : (10 * 1e9) / this.baud;
    this.cancelTimeout = this.ctx.timer(this.ctx.now() + 4 * charNs, () => {
      this.cancelTimeout = undefined;
      if (this.rx.length > 0) {
        this.timeoutIpending = true;
        this.update();
      }
    });
  }

  private triggerLevel(): number {
    return TRIGGER_LEVELS[this.fcr >> 6]!;
  }

  private iir(): number {
    if (this.ier & IER.rlsi && this.lsr & (LSR.oe | LSR.pe | LSR.fe | LSR.bi)) return IIR.rlsi;
    if (this.ier & IER.rdi && this.timeoutIpending) return IIR.cti;
    if (this.ier & IER.rdi && this.lsr & LSR.dr && (!this.fifoEnabled || this.rx.length >= this.triggerLevel())) return IIR.rdi;
    if (this.ier & IER.thri && this.thrIpending) return IIR.thri;
    if (this.ier & IER.msi && this.msr & 0x0f) return IIR.msi;
    return IIR.noInt;
  }

  private loopbackMsr(): number {
    const m = this.mcr;
    return (m & MCR.rts ? MSR.cts : 0) | (m & MCR.dtr ? MSR.dsr : 0) | (m & MCR.out1 ? MSR.ri : 0) | (m & MCR.out2 ? MSR.dcd : 0) | (this.msr & 0x0f);
  }

  /** The IRQ follows IIR, as serial_update_irq does. */
  private update(): void {
    const pending = this.iir() !== IIR.noInt;
    if (pending && !this.irq.asserted) this.irq.assert();
    else if (!pending && this.irq.asserted) this.irq.deassert();
  }
}
