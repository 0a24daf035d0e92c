/**
 * The IO-APIC driver (FreeBSD's x86/x86/io_apic.c): reads the pin count, masks every pin, and routes
 * ISA IRQs to vectors through redirection entries. ISA IRQ n is pin n except IRQ0, which the MP
 * table / MADT interrupt source override sends to pin 2 (the PIT's output on a PC).
 */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';
import {
  DEFAULT_IOAPIC_BASE, IOAPIC_REDTBL, IOAPIC_REGSEL, IOAPIC_VER, IOAPIC_WINDOW, IOART_DELFIXED, IOART_INTMASK, IOART_VER_MAXREDIR_SHIFT,
} from './apicreg.js';
import type { IntrVectors, VectorHandler } from './intr.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** The pin an ISA IRQ arrives on (the interrupt source override for IRQ0). */
export function isaIrqToPin(irq: number): number {
  if (!Number.isInteger(irq) || irq < 0 || irq > 15) throw new Error(`ioapic: ${irq} is not an ISA IRQ (0-15)`);
  return irq === 0 ? 2 : irq;
}

/** The first vector the kernel gives IO-APIC pins (FreeBSD's APIC_IO_INTS). */
export const APIC_IO_INTS = 0x30;

export class IoApicDriver {
  /** Number of redirection entries; 0 until {@link attach}. */
  pins = 0;

  constructor(
    private readonly v: VcpuApi,
    readonly base = DEFAULT_IOAPIC_BASE,
  ) {}

  *read(index: number): Gen<number> {
    yield* this.v.mmioWrite(this.base + IOAPIC_REGSEL, 4, index);
    return yield* this.v.mmioRead(this.base + IOAPIC_WINDOW, 4);
  }

  *write(index: number, value: number): Gen {
    yield* this.v.mmioWrite(this.base + IOAPIC_REGSEL, 4, index);
    yield* this.v.mmioWrite(this.base + IOAPIC_WINDOW, 4, value >>> 0);
  }

  /** ioapic_create: reads the version register for the pin count, then masks every pin. Returns the version line. */
  *attach(): Gen<string> {
    const ver = yield* this.read(IOAPIC_VER);
    if (ver === 0xffff_ffff) throw new Error(`ioapic: nothing at 0x${this.base.toString(16)}`);
    this.pins = ((ver >>> IOART_VER_MAXREDIR_SHIFT) & 0xff) + 1;
    for (let pin = 0; pin < this.pins; pin++) yield* this.write(IOAPIC_REDTBL + 2 * pin, IOART_INTMASK);
    return `Version ${(ver >>> 4) & 0xf}.${ver & 0xf} irqs 0-${this.pins - 1}`;
  }

  /** Programs `pin`: fixed delivery of `vector` to APIC `apicId`, edge high (ISA), masked or not. */
  *route(pin: number, vector: number, apicId: number, masked: boolean): Gen {
    if (pin >= this.pins) throw new Error(`ioapic: no pin ${pin} (it has ${this.pins})`);
    yield* this.write(IOAPIC_REDTBL + 2 * pin + 1, apicId << 24);
    yield* this.write(IOAPIC_REDTBL + 2 * pin, IOART_DELFIXED | vector | (masked ? IOART_INTMASK : 0));
  }

  /** Reads back `pin`'s low word (vector, mask). */
  *entry(pin: number): Gen<number> {
    return yield* this.read(IOAPIC_REDTBL + 2 * pin);
  }

  /** Sets or clears `pin`'s mask, keeping the rest of the entry. */
  *setMasked(pin: number, masked: boolean): Gen {
    const low = yield* this.entry(pin);
    yield* this.write(IOAPIC_REDTBL + 2 * pin, masked ? low | IOART_INTMASK : low & ~IOART_INTMASK);
  }
}

/** Routes ISA IRQs to vectors APIC_IO_INTS + irq on one CPU (FreeBSD's intr_add_handler for an ISA source). */
export class IsaInterrupts {
  constructor(
    private readonly ioapic: IoApicDriver,
    private readonly intr: IntrVectors,
    private readonly apicId: number,
  ) {}

  /** The vector ISA IRQ `irq` arrives on. */
  vectorOf(irq: number): number {
    return APIC_IO_INTS + irq;
  }

  /** Binds `handler` to `irq` and unmasks it (`masked` leaves the entry programmed but off, as for IRQ0 beside the LAPIC timer). */
  *setup(irq: number, handler: VectorHandler, masked = false): Gen {
    this.intr.bind(this.vectorOf(irq), handler);
    yield* this.ioapic.route(isaIrqToPin(irq), this.vectorOf(irq), this.apicId, masked);
  }
}
