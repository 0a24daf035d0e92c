/**
 * The firmware's PCI pass (hvmloader's pci_setup): enumerates bus 0 through configuration mechanism #1
 * (ports 0xCF8/0xCFC, each access a real VM exit to the device model), sizes every BAR, assigns
 * addresses largest first — I/O from 0xC000, MMIO from 0xF0000000 — routes INTx, and enables decoding.
 */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';

export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PCI_CONFIG_DATA = 0xcfc;
/** hvmloader's allocation windows. */
export const PCI_IO_START = 0xc000;
export const PCI_IO_END = 0x10000;
export const PCI_MEM_START = 0xf000_0000;
export const PCI_MEM_END = 0xfc00_0000;

const PCI_COMMAND = 0x04;
const PCI_COMMAND_IO = 0x1;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_CLASS_REVISION = 0x08;
const PCI_HEADER_TYPE = 0x0e;
const PCI_BASE_ADDRESS_0 = 0x10;
const PCI_INTERRUPT_LINE = 0x3c;
const BAR_IO = 0x1;
const BAR_MEM_TYPE_64 = 0x4;

/** One BAR the firmware placed. */
export interface AssignedBar {
  readonly device: number;
  readonly fn: number;
  readonly index: number;
  readonly kind: 'io' | 'mmio';
  readonly size: number;
  readonly address: number;
}

/** One function found on bus 0. */
export interface FoundFunction {
  readonly device: number;
  readonly fn: number;
  readonly vendorId: number;
  readonly deviceId: number;
  /** base class << 16 | subclass << 8 | prog-if. */
  readonly classCode: number;
  /** The GSI written to the interrupt line register (0xff: no pin). */
  readonly irq: number;
}

export interface PciSetup {
  readonly functions: readonly FoundFunction[];
  readonly bars: readonly AssignedBar[];
  /** BARs that did not fit their window (left disabled). */
  readonly unplaced: readonly AssignedBar[];
}

type Io<T> = Generator<VcpuRequest, T, unknown>;

const address = (device: number, fn: number, reg: number): number => (0x8000_0000 | (device << 11) | (fn << 8) | (reg & 0xfc)) >>> 0;

function* readConfig(v: VcpuApi, device: number, fn: number, reg: number): Io<number> {
  yield* v.outPort(PCI_CONFIG_ADDRESS, 4, address(device, fn, reg));
  return (yield* v.inPort(PCI_CONFIG_DATA, 4)) >>> 0;
}

function* writeConfig(v: VcpuApi, device: number, fn: number, reg: number, value: number): Io<void> {
  yield* v.outPort(PCI_CONFIG_ADDRESS, 4, address(device, fn, reg));
  yield* v.outPort(PCI_CONFIG_DATA, 4, value >>> 0);
}

/** Xen's hvm_pci_intx_gsi: the GSI of INTx `intx` (0 = INTA) of bus-0 device `device`. */
export function pciIntxGsi(device: number, intx: number): number {
  return (((device << 2) + (device >> 3) + intx) & 31) + 16;
}

interface Sized {
  device: number;
  fn: number;
  index: number;
  kind: 'io' | 'mmio';
  size: number;
  is64: boolean;
}

/** Sizes the BARs of one type-0 function: write all ones, read the mask back, restore. */
function* sizeBars(v: VcpuApi, device: number, fn: number): Io<Sized[]> {
  const bars: Sized[] = [];
  for (let index = 0; index < 6; index++) {
    const reg = PCI_BASE_ADDRESS_0 + index * 4;
    const original = yield* readConfig(v, device, fn, reg);
    yield* writeConfig(v, device, fn, reg, 0xffff_ffff);
    const mask = yield* readConfig(v, device, fn, reg);
    yield* writeConfig(v, device, fn, reg, original);
    if (mask === 0 || mask === 0xffff_ffff) continue;
    const io = (mask & BAR_IO) !== 0;
    const size = io ? ((~(mask & ~0x3) & 0xffff) + 1) : ((~(mask & ~0xf) >>> 0) + 1);
    const is64 = !io && (mask & 0x6) === BAR_MEM_TYPE_64;
    bars.push({ device, fn, index, kind: io ? 'io' : 'mmio', size, is64 });
    if (is64) index++; // the upper half is the next register
  }
  return bars;
}

/** Runs the PCI pass on bus 0. */
export function* pciSetup(v: VcpuApi): Io<PciSetup> {
  const functions: FoundFunction[] = [];
  const sized: Sized[] = [];
  for (let device = 0; device < 32; device++) {
    for (let fn = 0; fn < 8; fn++) {
      const id = yield* readConfig(v, device, fn, 0);
      if ((id & 0xffff) === 0xffff || id === 0) {
        if (fn === 0) break;
        continue;
      }
      const classCode = (yield* readConfig(v, device, fn, PCI_CLASS_REVISION)) >>> 8;
      const headerType = ((yield* readConfig(v, device, fn, PCI_HEADER_TYPE & 0xfc)) >>> 16) & 0xff;
      if ((headerType & 0x7f) === 0) {
        // Decoding off while the BARs are sized and moved; turned back on for the BARs placed.
        const command = yield* readConfig(v, device, fn, PCI_COMMAND);
        yield* writeConfig(v, device, fn, PCI_COMMAND, command & 0xffff & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
        sized.push(...(yield* sizeBars(v, device, fn)));
      }
      const line = yield* readConfig(v, device, fn, PCI_INTERRUPT_LINE);
      const pin = (line >>> 8) & 0xff;
      const irq = pin >= 1 && pin <= 4 ? pciIntxGsi(device, pin - 1) : 0xff;
      if (irq !== 0xff) yield* writeConfig(v, device, fn, PCI_INTERRUPT_LINE, ((line & ~0xff) | irq) >>> 0);
      functions.push({ device, fn, vendorId: id & 0xffff, deviceId: id >>> 16, classCode, irq });
      if (fn === 0 && (headerType & 0x80) === 0) break; // not multi-function
    }
  }
  // Largest first, so every BAR lands naturally aligned with no gaps between equal sizes.
  sized.sort((a, b) => b.size - a.size || a.device - b.device || a.fn - b.fn || a.index - b.index);
  const next = { io: PCI_IO_START, mmio: PCI_MEM_START };
  const end = { io: PCI_IO_END, mmio: PCI_MEM_END };
  const bars: AssignedBar[] = [];
  const unplaced: AssignedBar[] = [];
  const enable = new Map<string, number>();
  for (const bar of sized) {
    const base = Math.ceil(next[bar.kind] / bar.size) * bar.size;
    if (base + bar.size > end[bar.kind]) {
      unplaced.push({ device: bar.device, fn: bar.fn, index: bar.index, kind: bar.kind, size: bar.size, address: 0 });
      continue;
    }
    next[bar.kind] = base + bar.size;
    const reg = PCI_BASE_ADDRESS_0 + bar.index * 4;
    yield* writeConfig(v, bar.device, bar.fn, reg, base);
    if (bar.is64) yield* writeConfig(v, bar.device, bar.fn, reg + 4, 0);
    bars.push({ device: bar.device, fn: bar.fn, index: bar.index, kind: bar.kind, size: bar.size, address: base });
    const key = `${bar.device}.${bar.fn}`;
    enable.set(key, (enable.get(key) ?? 0) | (bar.kind === 'io' ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY));
  }
  for (const [key, bits] of enable) {
    const [device, fn] = key.split('.').map(Number) as [number, number];
    const command = yield* readConfig(v, device, fn, PCI_COMMAND);
    yield* writeConfig(v, device, fn, PCI_COMMAND, (command & 0xffff) | bits);
  }
  return { functions, bars, unplaced };
}
