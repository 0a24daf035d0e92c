/**
 * The IO-APIC driver (FreeBSD's x86/x86/io_apic.c): reads the pin count, masks every pin, and routes
 * ISA IRQs to vectors through redirection entries. ISA IRQ n is pin n, edge-triggered and active high,
 * unless an interrupt source override of the MADT says otherwise (madt_parse_interrupt_override): its
 * GSI, and its polarity and trigger mode when they do not conform to the ISA bus. Without a MADT, IRQ0
 * goes to pin 2 (the PIT's output on a PC, as the MP specification's default configuration has it).
 */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';
import {
  DEFAULT_IOAPIC_BASE, IOAPIC_REDTBL, IOAPIC_REGSEL, IOAPIC_VER, IOAPIC_WINDOW, IOART_DELFIXED, IOART_INTALO, IOART_INTMASK, IOART_TRGRLVL,
  IOART_VER_MAXREDIR_SHIFT,
} from './apicreg.js';
import type { IntrVectors, VectorHandler } from './intr.js';
import type { MadtOverride } from '../dev/acpi/tables.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** MPS INTI flags: polarity in bits 0-1, trigger mode in bits 2-3 (0 = conforms to the bus; 3 = active low / level). */
const INTI_POLARITY_LOW = 3;
const INTI_TRIGGER_LEVEL = 3;

/** The MP specification's default configuration: the PIT's IRQ0 on pin 2. */
const DEFAULT_OVERRIDES: readonly MadtOverride[] = [{ source: 0, gsi: 2, flags: 0 }];

/** Where ISA IRQ `irq` arrives: its pin and the polarity/trigger bits of its redirection entry. */
export function isaRoute(irq: number, overrides: readonly MadtOverride[] = DEFAULT_OVERRIDES): { pin: number; bits: number } {
  if (!Number.isInteger(irq) || irq < 0 || irq > 15) throw new Error(`ioapic: ${irq} is not an ISA IRQ (0-15)`);
  const o = overrides.find((x) => x.source === irq);
  if (o === undefined) return { pin: irq, bits: 0 };
  const low = (o.flags & 3) === INTI_POLARITY_LOW;
  const level = ((o.flags >> 2) & 3) === INTI_TRIGGER_LEVEL;
  return { pin: o.gsi, bits: (low ? IOART_INTALO : 0) | (level ? IOART_TRGRLVL : 0) };
}

/** The first vector the kernel gives IO-APIC pins (FreeBSD's APIC_IO_INTS). */
export const APIC_IO_INTS = 0x30;

export class IoApicDriver {
  /** Number of redirection entries; 0 until {@link attach}. */
  pins = 0;
  /** How ISA IRQs map to pins: the MADT's overrides once {@link useOverrides} gave them. */
  private overrides: readonly MadtOverride[] = DEFAULT_OVERRIDES;

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

  /** Takes the MADT's interrupt source overrides (they replace the default configuration's). */
  useOverrides(overrides: readonly MadtOverride[]): void {
    this.overrides = overrides;
  }

  /** Where ISA IRQ `irq` arrives on this IO-APIC ({@link isaRoute} under its overrides). */
  isaRoute(irq: number): { pin: number; bits: number } {
    return isaRoute(irq, this.overrides);
  }

  /** Programs `pin`: fixed delivery of `vector` to APIC `apicId`, with polarity/trigger `bits` (0: edge, active high), masked or not. */
  *route(pin: number, vector: number, apicId: number, masked: boolean, bits = 0): Gen {
    if (pin >= this.pins) throw new Error(`ioapic: no pin ${pin} (it has ${this.pins})`);
    yield* this.write(IOAPIC_REDTBL + 2 * pin + 1, apicId << 24);
    yield* this.write(IOAPIC_REDTBL + 2 * pin, IOART_DELFIXED | bits | vector | (masked ? IOART_INTMASK : 0));
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
    const { pin, bits } = this.ioapic.isaRoute(irq);
    yield* this.ioapic.route(pin, this.vectorOf(irq), this.apicId, masked, bits);
  }
}
