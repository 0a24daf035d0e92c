/** The IO-APIC (82093AA): IOREGSEL/IOWIN, redirection table, edge and level semantics with remote IRR and EOI. */
import { HardwareError } from '../api/errors.js';
import type { MmioHandler } from '../api/io.js';
import { DeliveryMode } from './apic-defs.js';
import type { ApicBus } from './apic-bus.js';

/** Default MMIO base of the first IO-APIC. */
export const IO_APIC_DEFAULT_BASE = 0xfec0_0000;
/** Size of the IO-APIC's MMIO window. */
export const IO_APIC_MMIO_SIZE = 0x1000;
/** MMIO offsets: the register select and the data window. */
export const IOAPIC_REG_SELECT = 0x00;
export const IOAPIC_REG_WINDOW = 0x10;
/** Indirect registers. */
export const IOAPIC_REG_ID = 0x00;
export const IOAPIC_REG_VERSION = 0x01;
export const IOAPIC_REG_ARB = 0x02;
export const IOAPIC_REG_REDTBL = 0x10;
/** The 82093AA's version number. */
export const IOAPIC_VERSION_ID = 0x11;

/** Redirection entry bits (low dword). */
export const IOAPIC_LVT_DELIVERY_STATUS = 1 << 12;
export const IOAPIC_LVT_POLARITY_LOW = 1 << 13;
export const IOAPIC_LVT_REMOTE_IRR = 1 << 14;
export const IOAPIC_LVT_LEVEL_TRIGGER = 1 << 15;
export const IOAPIC_LVT_MASKED = 1 << 16;
const IOAPIC_LVT_DEST_LOGICAL = 1 << 11;
/** Read-only bits of the low dword: delivery status and remote IRR. */
const IOAPIC_LOW_READ_ONLY = IOAPIC_LVT_DELIVERY_STATUS | IOAPIC_LVT_REMOTE_IRR;

/** A redirection entry, decoded. */
export interface RedirectionEntry {
  vector: number;
  deliveryMode: DeliveryMode;
  logical: boolean;
  deliveryStatus: boolean;
  activeLow: boolean;
  remoteIrr: boolean;
  level: boolean;
  masked: boolean;
  /** Destination (bits 63:56). */
  dest: number;
}

export interface IoApicOptions {
  /** The IO-APIC ID (bits 27:24 of register 0). */
  id?: number;
  /** Number of input pins; default 24. */
  pins?: number;
  /** First GSI served by pin 0. */
  gsiBase?: number;
  /** MMIO base, as the MADT describes it; default 0xFEC00000. */
  base?: number;
  /** Name in messages; default `ioapic<id>`. */
  name?: string;
}

/**
 * One IO-APIC. Inputs are logical levels (asserted or not); the polarity bit is kept for software to
 * read but does not invert them, as in Xen's vioapic and QEMU. An edge while a pin is masked is lost;
 * a level pin is re-examined on unmask and after its EOI.
 */
export class IoApic {
  readonly pins: number;
  readonly gsiBase: number;
  readonly base: number;
  readonly name: string;
  private id: number;
  private select = 0;
  private readonly low: Uint32Array;
  private readonly high: Uint32Array;
  private readonly levels: boolean[];
  private readonly onEoi = (vector: number): void => this.eoi(vector);

  constructor(
    private readonly bus: ApicBus,
    options: IoApicOptions = {},
  ) {
    this.pins = options.pins ?? 24;
    if (!Number.isInteger(this.pins) || this.pins < 1 || this.pins > 240) throw new HardwareError('ioapic-pins', `ioapic: ${this.pins} pins (1..240 allowed)`);
    this.id = (options.id ?? 0) & 0xf;
    this.gsiBase = options.gsiBase ?? 0;
    this.base = options.base ?? IO_APIC_DEFAULT_BASE;
    this.name = options.name ?? `ioapic${this.id}`;
    this.low = new Uint32Array(this.pins).fill(IOAPIC_LVT_MASKED);
    this.high = new Uint32Array(this.pins);
    this.levels = new Array<boolean>(this.pins).fill(false);
    bus.events.on('eoi', this.onEoi);
  }

  /** Disconnects from the bus's EOI broadcasts. */
  dispose(): void {
    this.bus.events.off('eoi', this.onEoi);
  }

  /** The version register: maximum redirection entry in bits 23:16, version 0x11. */
  get version(): number {
    return ((this.pins - 1) << 16) | IOAPIC_VERSION_ID;
  }

  // ---- inputs ------------------------------------------------------------------------------

  /** Drives input `pin`. A rising edge triggers an edge pin; an asserted level pin is serviced. */
  setLevel(pin: number, asserted: boolean): void {
    this.checkPin(pin);
    const rising = asserted && !this.levels[pin];
    this.levels[pin] = asserted;
    const low = this.low[pin]!;
    if (low & IOAPIC_LVT_LEVEL_TRIGGER) {
      if (asserted) this.service(pin);
    } else if (rising && (low & IOAPIC_LVT_MASKED) === 0) {
      this.deliver(pin);
    }
  }

  /** An edge: asserts then deasserts `pin`. */
  pulse(pin: number): void {
    this.setLevel(pin, true);
    this.setLevel(pin, false);
  }

  /** The input's current level. */
  level(pin: number): boolean {
    this.checkPin(pin);
    return this.levels[pin]!;
  }

  /** EOI broadcast for `vector`: clears remote IRR of level pins with that vector and re-delivers asserted ones. */
  eoi(vector: number): void {
    for (let pin = 0; pin < this.pins; pin++) {
      const low = this.low[pin]!;
      if ((low & 0xff) !== vector || (low & IOAPIC_LVT_REMOTE_IRR) === 0) continue;
      this.low[pin] = low & ~IOAPIC_LVT_REMOTE_IRR;
      if (this.levels[pin]) this.service(pin);
    }
  }

  // ---- registers ---------------------------------------------------------------------------

  /** Reads indirect register `index`. */
  readRegister(index: number): number {
    if (index === IOAPIC_REG_ID) return (this.id << 24) >>> 0;
    if (index === IOAPIC_REG_VERSION) return this.version;
    if (index === IOAPIC_REG_ARB) return (this.id << 24) >>> 0;
    const pin = (index - IOAPIC_REG_REDTBL) >> 1;
    if (index < IOAPIC_REG_REDTBL || pin >= this.pins) return 0xffff_ffff;
    return index & 1 ? this.high[pin]! : this.low[pin]!;
  }

  /** Writes indirect register `index`. Writing a redirection entry may deliver a pending level interrupt. */
  writeRegister(index: number, value: number): void {
    value >>>= 0;
    if (index === IOAPIC_REG_ID) {
      this.id = (value >>> 24) & 0xf;
      return;
    }
    const pin = (index - IOAPIC_REG_REDTBL) >> 1;
    if (index < IOAPIC_REG_REDTBL || pin >= this.pins) return;
    if (index & 1) {
      this.high[pin] = value;
      return;
    }
    const old = this.low[pin]!;
    let low = (value & ~IOAPIC_LOW_READ_ONLY) | (old & IOAPIC_LOW_READ_ONLY);
    if ((low & IOAPIC_LVT_LEVEL_TRIGGER) === 0) low &= ~IOAPIC_LVT_REMOTE_IRR;
    this.low[pin] = low >>> 0;
    if (low & IOAPIC_LVT_LEVEL_TRIGGER && this.levels[pin]) this.service(pin);
  }

  /** The redirection entry of `pin`, decoded. */
  entry(pin: number): RedirectionEntry {
    this.checkPin(pin);
    const low = this.low[pin]!;
    return {
      vector: low & 0xff,
      deliveryMode: ((low >>> 8) & 7) as DeliveryMode,
      logical: (low & IOAPIC_LVT_DEST_LOGICAL) !== 0,
      deliveryStatus: (low & IOAPIC_LVT_DELIVERY_STATUS) !== 0,
      activeLow: (low & IOAPIC_LVT_POLARITY_LOW) !== 0,
      remoteIrr: (low & IOAPIC_LVT_REMOTE_IRR) !== 0,
      level: (low & IOAPIC_LVT_LEVEL_TRIGGER) !== 0,
      masked: (low & IOAPIC_LVT_MASKED) !== 0,
      dest: this.high[pin]! >>> 24,
    };
  }

  /** MMIO read: IOREGSEL at 0x00, IOWIN at 0x10 (32-bit registers). Other offsets read 0. */
  mmioRead(offset: number): number {
    if (offset === IOAPIC_REG_SELECT) return this.select;
    if (offset === IOAPIC_REG_WINDOW) return this.readRegister(this.select);
    return 0;
  }

  mmioWrite(offset: number, value: number): void {
    if (offset === IOAPIC_REG_SELECT) this.select = value & 0xff;
    else if (offset === IOAPIC_REG_WINDOW) this.writeRegister(this.select, value);
  }

  /** The MMIO window as a handler (register {@link IO_APIC_MMIO_SIZE} bytes at {@link IoApic.base}). */
  get mmio(): MmioHandler {
    return {
      read: (offset, size) => (size === 4 ? this.mmioRead(offset) : 0),
      write: (offset, size, value) => {
        if (size === 4) this.mmioWrite(offset, value);
      },
    };
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** A level pin: delivers if asserted, unmasked and not awaiting EOI. */
  private service(pin: number): void {
    const low = this.low[pin]!;
    if (!this.levels[pin] || low & (IOAPIC_LVT_MASKED | IOAPIC_LVT_REMOTE_IRR)) return;
    this.low[pin] = (low | IOAPIC_LVT_REMOTE_IRR) >>> 0;
    this.deliver(pin);
  }

  private deliver(pin: number): void {
    const e = this.entry(pin);
    this.bus.deliver({ vector: e.vector, deliveryMode: e.deliveryMode, logical: e.logical, dest: e.dest, level: e.level });
  }

  private checkPin(pin: number): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= this.pins) throw new HardwareError('ioapic-pin', `${this.name}: no pin ${pin} (it has ${this.pins})`);
  }
}
