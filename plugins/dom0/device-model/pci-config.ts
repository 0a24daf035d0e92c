/**
 * One PCI function's type-0 configuration header as the device model emulates it: identity registers,
 * the command register's decode enables, BAR sizing and assignment, interrupt line/pin — and the BAR
 * mapping a device learns through `onBarMapped` when decoding starts, stops or moves.
 */
import type { PciBarSpec, PciDeviceSpec } from '../../../core/api/index.js';

/** Command register bits the emulation keeps (I/O space, memory space, bus master, INTx disable). */
export const PCI_COMMAND = { io: 1 << 0, memory: 1 << 1, master: 1 << 2, intxDisable: 1 << 10 } as const;
const COMMAND_WRITABLE = PCI_COMMAND.io | PCI_COMMAND.memory | PCI_COMMAND.master | PCI_COMMAND.intxDisable;
/** Header offsets (pci_regs.h). */
const REG = { vendor: 0x00, device: 0x02, command: 0x04, status: 0x06, revision: 0x08, classCode: 0x09, cacheLine: 0x0c, latency: 0x0d, headerType: 0x0e, bar0: 0x10, subsystemVendor: 0x2c, subsystem: 0x2e, interruptLine: 0x3c, interruptPin: 0x3d } as const;
/** Status bit 3: the function's INTx is asserted. */
const STATUS_INTERRUPT = 1 << 3;
const MAX_BARS = 6;

/** A function's configuration space and its BARs' current mapping. */
export class PciConfigSpace {
  private command = 0;
  private cacheLine = 0;
  private latency = 0;
  private interruptLine = 0;
  private intxAsserted = false;
  /** The BAR in each of the six registers (a spec's `index`, else its position), undefined when unimplemented. */
  private readonly barSpecs: (PciBarSpec | undefined)[] = new Array<PciBarSpec | undefined>(MAX_BARS).fill(undefined);
  /** Raw BAR register values (address bits as written, flag bits applied on read). */
  private readonly bars: number[] = new Array<number>(MAX_BARS).fill(0);
  /** Where each BAR decodes now (undefined: not decoding). */
  private readonly mapped: (number | undefined)[] = new Array<number | undefined>(MAX_BARS).fill(undefined);

  constructor(readonly spec: PciDeviceSpec) {
    if (spec.bars.length > MAX_BARS) throw new Error(`pci: ${spec.name} asks for ${spec.bars.length} BARs (at most ${MAX_BARS})`);
    for (const [position, bar] of spec.bars.entries()) {
      const i = bar.index ?? position;
      if (!Number.isInteger(i) || i < 0 || i >= MAX_BARS || this.barSpecs[i] !== undefined) throw new Error(`pci: ${spec.name} BAR${i} is not a free BAR register (0-${MAX_BARS - 1})`);
      const min = bar.kind === 'io' ? 4 : 16;
      if (bar.size < min || (bar.size & (bar.size - 1)) !== 0 || bar.size > 2 ** 31) throw new Error(`pci: ${spec.name} BAR${i} size ${bar.size} is not a power of two ≥ ${min}`);
      this.barSpecs[i] = bar;
    }
  }

  /** The INTx state the status register shows. */
  setIntxStatus(asserted: boolean): void {
    this.intxAsserted = asserted;
  }

  /** INTx disable (command bit 10) masks the pin. */
  get intxDisabled(): boolean {
    return (this.command & PCI_COMMAND.intxDisable) !== 0;
  }

  /** Reads `size` bytes at `offset` (aligned by the caller's port arithmetic). */
  read(offset: number, size: number): number {
    if (offset >= 0x40) return this.spec.configRead?.(offset, size) ?? 0;
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + this.byte(offset + i);
    return value >>> 0;
  }

  /** Writes `size` bytes at `offset`; read-only bits stay. */
  write(offset: number, size: number, value: number): void {
    if (offset >= 0x40) {
      this.spec.configWrite?.(offset, size, value);
      return;
    }
    const before = this.command;
    for (let i = 0; i < size; i++) this.writeByte(offset + i, Math.floor(value / 2 ** (8 * i)) & 0xff);
    if (this.command !== before || (offset < REG.bar0 + 4 * MAX_BARS && offset + size > REG.bar0)) this.updateMappings();
  }

  /** Stops every BAR decoding (the device leaves the bus). */
  unmapAll(): void {
    for (let i = 0; i < this.mapped.length; i++) this.remap(i, undefined);
  }

  /** Where BAR `index` decodes now. */
  barAddress(index: number): number | undefined {
    return this.mapped[index];
  }

  private byte(offset: number): number {
    const s = this.spec;
    const field = (value: number, at: number): number => (value >>> (8 * (offset - at))) & 0xff;
    if (offset < 0x02) return field(s.vendorId, REG.vendor);
    if (offset < 0x04) return field(s.deviceId, REG.device);
    if (offset < 0x06) return field(this.command, REG.command);
    if (offset < 0x08) return field(this.intxAsserted ? STATUS_INTERRUPT : 0, REG.status);
    if (offset === REG.revision) return s.revision & 0xff;
    if (offset < 0x0c) return field(s.classCode, REG.classCode);
    if (offset === REG.cacheLine) return this.cacheLine;
    if (offset === REG.latency) return this.latency;
    if (offset >= REG.bar0 && offset < REG.bar0 + 4 * MAX_BARS) {
      const index = (offset - REG.bar0) >> 2;
      return this.barSpecs[index] !== undefined ? field(this.barValue(index), REG.bar0 + 4 * index) : 0;
    }
    if (offset === REG.subsystemVendor || offset === REG.subsystemVendor + 1) return field(s.subsystemVendorId ?? 0, REG.subsystemVendor);
    if (offset === REG.subsystem || offset === REG.subsystem + 1) return field(s.subsystemId ?? 0, REG.subsystem);
    if (offset === REG.interruptLine) return this.interruptLine;
    if (offset === REG.interruptPin) return s.interruptPin & 0xff;
    return 0;
  }

  private writeByte(offset: number, value: number): void {
    if (offset === REG.command) this.command = (this.command & ~0xff) | (value & COMMAND_WRITABLE & 0xff);
    else if (offset === REG.command + 1) this.command = (this.command & 0xff) | ((value << 8) & COMMAND_WRITABLE);
    else if (offset === REG.cacheLine) this.cacheLine = value;
    else if (offset === REG.latency) this.latency = value;
    else if (offset === REG.interruptLine) this.interruptLine = value;
    else if (offset >= REG.bar0 && offset < REG.bar0 + 4 * MAX_BARS) {
      const index = (offset - REG.bar0) >> 2;
      if (this.barSpecs[index] === undefined) return;
      const shift = 8 * ((offset - REG.bar0) & 3);
      this.bars[index] = ((this.bars[index]! & ~(0xff << shift)) | (value << shift)) >>> 0;
    }
  }

  /** The BAR register as read: address bits under the size mask, then the read-only flag bits. */
  private barValue(index: number): number {
    const bar = this.barSpecs[index]!;
    const mask = ~(bar.size - 1) >>> 0;
    if (bar.kind === 'io') return ((this.bars[index]! & mask & 0xffff_fffc) | 1) >>> 0;
    return ((this.bars[index]! & mask & 0xffff_fff0) | (bar.prefetchable ? 0x8 : 0)) >>> 0;
  }

  /** QEMU's pci_bar_address: decoding needs the space enabled and an address that fits (not 0, not the sizing pattern). */
  private effectiveAddress(index: number): number | undefined {
    const bar = this.barSpecs[index];
    if (bar === undefined) return undefined;
    const base = (this.barValue(index) & (bar.kind === 'io' ? 0xffff_fffc : 0xffff_fff0)) >>> 0;
    const last = base + bar.size - 1;
    if (bar.kind === 'io') return (this.command & PCI_COMMAND.io) !== 0 && base !== 0 && last <= 0xffff ? base : undefined;
    return (this.command & PCI_COMMAND.memory) !== 0 && base !== 0 && last < 0xffff_ffff ? base : undefined;
  }

  private updateMappings(): void {
    for (let i = 0; i < this.bars.length; i++) this.remap(i, this.effectiveAddress(i));
  }

  private remap(index: number, address: number | undefined): void {
    const was = this.mapped[index];
    if (was === address) return;
    if (was !== undefined) {
      this.mapped[index] = undefined;
      this.spec.onBarMapped?.(index, undefined);
    }
    if (address !== undefined) {
      this.mapped[index] = address;
      this.spec.onBarMapped?.(index, address);
    }
  }
}
