/**
 * The ns8250/16550A UART driver (FreeBSD's dev/uart/uart_dev_ns8250.c): probes with the scratch
 * register and the FIFO bits, programs 115200 8N1 with FIFOs, receives on the RX-data interrupt and
 * sends through the 16-byte transmit FIFO. Output is queued by `write` (callable anywhere, as kernel
 * printf is) and pushed to the chip by `drain`, from the idle loop and the THRE interrupt.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** COM1. */
export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;
/** The 1.8432 MHz crystal divided by 16. */
const UART_BAUD_BASE = 115_200;

/** Register offsets (ns16550.h). */
export const REG = { DATA: 0, IER: 1, IIR: 2, FCR: 2, LCR: 3, MCR: 4, LSR: 5, MSR: 6, SCR: 7, DLL: 0, DLM: 1 } as const;
export const IER_ERXRDY = 0x01;
export const IER_ETXRDY = 0x02;
export const IIR_NOPEND = 0x01;
export const IIR_IMASK = 0x0e;
export const IIR_RXRDY = 0x04;
export const IIR_TXRDY = 0x02;
export const IIR_FIFO_MASK = 0xc0;
export const FCR_ENABLE = 0x01;
export const FCR_RCV_RST = 0x02;
export const FCR_XMT_RST = 0x04;
export const LCR_DLAB = 0x80;
export const LCR_8BITS = 0x03;
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
/** OUT2 gates the UART's interrupt onto the ISA line on PCs. */
export const MCR_IE = 0x08;
export const LSR_RXRDY = 0x01;
export const LSR_THRE = 0x20;
const TX_FIFO = 16;
/** IIR re-reads per interrupt before the handler gives up on a chip that never says "none pending". */
const MAX_INTR_ROUNDS = 64;
/** Bytes a write queues before the oldest are dropped (the console must not grow without bound). */
export const UART_TXQ_MAX = 64 * 1024;

export class Ns8250 {
  private txq: number[] = [];
  private ier = 0;
  /** Bytes dropped because the queue was full. */
  dropped = 0;
  /** 'ns8250' or '16550A', once probed. */
  model = '';

  constructor(
    private readonly v: VcpuApi,
    readonly port = COM1_PORT,
  ) {}

  private *in(reg: number): Gen<number> {
    return yield* this.v.inPort(this.port + reg, 1);
  }

  private *out(reg: number, value: number): Gen {
    yield* this.v.outPort(this.port + reg, 1, value & 0xff);
  }

  /** ns8250_probe: false when no UART answers (the scratch register does not hold a value). */
  *probe(): Gen<boolean> {
    for (const pattern of [0x55, 0xaa]) {
      yield* this.out(REG.SCR, pattern);
      if ((yield* this.in(REG.SCR)) !== pattern) return false;
    }
    yield* this.out(REG.FCR, FCR_ENABLE);
    this.model = ((yield* this.in(REG.IIR)) & IIR_FIFO_MASK) === IIR_FIFO_MASK ? '16550A' : 'ns8250';
    yield* this.out(REG.FCR, 0);
    return true;
  }

  /** ns8250_init + ns8250_bus_attach: line settings, FIFOs reset and on, OUT2 and RX interrupts on. */
  *init(baud = UART_BAUD_BASE): Gen {
    const divisor = Math.max(1, Math.round(UART_BAUD_BASE / baud));
    yield* this.out(REG.LCR, LCR_DLAB);
    yield* this.out(REG.DLL, divisor & 0xff);
    yield* this.out(REG.DLM, divisor >> 8);
    yield* this.out(REG.LCR, LCR_8BITS);
    yield* this.out(REG.FCR, FCR_ENABLE | FCR_RCV_RST | FCR_XMT_RST);
    yield* this.out(REG.MCR, MCR_DTR | MCR_RTS | MCR_IE);
    this.ier = IER_ERXRDY;
    yield* this.out(REG.IER, this.ier);
  }

  /** Queues text for the console (UTF-8 bytes). */
  write(text: string): void {
    for (const b of new TextEncoder().encode(text)) this.txq.push(b);
    if (this.txq.length > UART_TXQ_MAX) {
      const over = this.txq.length - UART_TXQ_MAX;
      this.txq.splice(0, over);
      this.dropped += over;
    }
  }

  /** Bytes waiting for the transmitter. */
  get backlog(): number {
    return this.txq.length;
  }

  /** Feeds the transmit FIFO while it empties; if it stays busy, asks for the THRE interrupt to finish. */
  *drain(): Gen {
    while (this.txq.length > 0) {
      if (((yield* this.in(REG.LSR)) & LSR_THRE) === 0) {
        yield* this.setIer(this.ier | IER_ETXRDY);
        return;
      }
      for (const b of this.txq.splice(0, TX_FIFO)) yield* this.out(REG.DATA, b);
    }
    yield* this.setIer(this.ier & ~IER_ETXRDY);
  }

  private *setIer(ier: number): Gen {
    if (ier === this.ier) return;
    this.ier = ier;
    yield* this.out(REG.IER, ier);
  }

  /** ns8250_bus_ipend + receive: the interrupt handler. Returns the bytes received. */
  *intr(): Gen<Uint8Array> {
    const got: number[] = [];
    for (let round = 0; round < MAX_INTR_ROUNDS; round++) {
      const iir = yield* this.in(REG.IIR);
      if (iir & IIR_NOPEND) break;
      if ((iir & IIR_IMASK) === IIR_TXRDY) {
        yield* this.drain();
        continue;
      }
      // RX data (or timeout, or line status): empty the receive FIFO.
      while ((yield* this.in(REG.LSR)) & LSR_RXRDY) got.push(yield* this.in(REG.DATA));
      if ((iir & IIR_IMASK) !== IIR_RXRDY && got.length === 0) yield* this.in(REG.MSR);
    }
    return new Uint8Array(got);
  }
}
