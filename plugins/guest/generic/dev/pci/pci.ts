/**
 * The PCI bus (FreeBSD's dev/pci/pci.c, reduced): enumerates bus 0 through configuration mechanism #1,
 * reads each function's identity and sizes its BARs, and attaches the driver that claims it — the
 * others are reported as FreeBSD does for devices with no driver.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';
import { deviceAttach, type Driver } from '../../kern/bus.js';
import {
  PCIM_BAR_IO_SPACE, PCIM_BAR_MEM_64, PCIM_BAR_MEM_PREFETCH, PCIM_BAR_MEM_TYPE, PCIM_CMD_MEMEN, PCIM_CMD_PORTEN, PCIM_MFDEV, PCIR,
  PCI_FUNCMAX, PCI_SLOTMAX, pciCfgRead, pciCfgWrite, type PciSelector,
} from './pci_cfgreg.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** One decoded BAR: where the firmware put it and how big it is. */
export interface PciBar {
  /** 0-5. */
  readonly index: number;
  readonly kind: 'io' | 'mmio';
  readonly base: number;
  readonly size: number;
  readonly prefetchable: boolean;
}

/** A function's identity (FreeBSD's `struct pcicfg`). */
export interface PciDevinfo extends PciSelector {
  readonly vendor: number;
  readonly device: number;
  readonly subvendor: number;
  readonly subdevice: number;
  readonly revid: number;
  readonly baseclass: number;
  readonly subclass: number;
  readonly intpin: number;
  readonly intline: number;
  readonly bars: readonly PciBar[];
}

/** A PCI driver: `probe` returns the driver instance for a function it claims. */
export interface PciDriver {
  readonly name: string;
  probe(info: PciDevinfo): Driver | undefined;
}

const BAR_COUNT = 6;

/** pci_read_bar: decoding off, all ones written, the size mask read back, everything restored. */
function* readBars(v: VcpuApi, sel: PciSelector): Gen<PciBar[]> {
  const bars: PciBar[] = [];
  const command = yield* pciCfgRead(v, sel, PCIR.COMMAND, 2);
  yield* pciCfgWrite(v, sel, PCIR.COMMAND, 2, command & ~(PCIM_CMD_PORTEN | PCIM_CMD_MEMEN));
  for (let i = 0; i < BAR_COUNT; i++) {
    const reg = PCIR.BAR0 + 4 * i;
    const old = yield* pciCfgRead(v, sel, reg, 4);
    yield* pciCfgWrite(v, sel, reg, 4, 0xffff_ffff);
    const mask = yield* pciCfgRead(v, sel, reg, 4);
    yield* pciCfgWrite(v, sel, reg, 4, old);
    if (mask === 0 || mask === 0xffff_ffff) continue;
    if (old & PCIM_BAR_IO_SPACE) {
      bars.push({ index: i, kind: 'io', base: old & 0xffff_fffc, size: (~(mask & 0xffff_fffc) & 0xffff) + 1, prefetchable: false });
      continue;
    }
    const index = i;
    const size = 2 ** 32 - ((mask & 0xffff_fff0) >>> 0);
    let base = (old & 0xffff_fff0) >>> 0;
    // A 64-bit BAR's upper half is the next register (sized here only below 4 GiB).
    if ((old & PCIM_BAR_MEM_TYPE) === PCIM_BAR_MEM_64) base += (yield* pciCfgRead(v, sel, PCIR.BAR0 + 4 * ++i, 4)) * 2 ** 32;
    bars.push({ index, kind: 'mmio', base, size, prefetchable: (old & PCIM_BAR_MEM_PREFETCH) !== 0 });
  }
  yield* pciCfgWrite(v, sel, PCIR.COMMAND, 2, command);
  return bars;
}

/** pci_read_device: undefined when no function answers at `sel`. */
export function* pciReadDevice(v: VcpuApi, sel: PciSelector): Gen<PciDevinfo | undefined> {
  const vendor = yield* pciCfgRead(v, sel, PCIR.VENDOR, 2);
  if (vendor === 0xffff || vendor === 0) return undefined;
  return {
    ...sel,
    vendor,
    device: yield* pciCfgRead(v, sel, PCIR.DEVICE, 2),
    subvendor: yield* pciCfgRead(v, sel, PCIR.SUBVEND_0, 2),
    subdevice: yield* pciCfgRead(v, sel, PCIR.SUBDEV_0, 2),
    revid: yield* pciCfgRead(v, sel, PCIR.REVID, 1),
    baseclass: yield* pciCfgRead(v, sel, PCIR.CLASS, 1),
    subclass: yield* pciCfgRead(v, sel, PCIR.SUBCLASS, 1),
    intpin: yield* pciCfgRead(v, sel, PCIR.INTPIN, 1),
    intline: yield* pciCfgRead(v, sel, PCIR.INTLINE, 1),
    bars: yield* readBars(v, sel),
  };
}

/** pci_add_children: every function on `bus`, function 0 first, functions 1-7 only on multi-function devices. */
export function* pciEnumerate(v: VcpuApi, bus = 0): Gen<PciDevinfo[]> {
  const found: PciDevinfo[] = [];
  for (let slot = 0; slot <= PCI_SLOTMAX; slot++) {
    const f0 = yield* pciReadDevice(v, { bus, slot, func: 0 });
    if (f0 === undefined) continue;
    found.push(f0);
    const hdr = yield* pciCfgRead(v, { bus, slot, func: 0 }, PCIR.HDRTYPE, 1);
    if ((hdr & PCIM_MFDEV) === 0) continue;
    for (let func = 1; func <= PCI_FUNCMAX; func++) {
      const f = yield* pciReadDevice(v, { bus, slot, func });
      if (f !== undefined) found.push(f);
    }
  }
  return found;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/**
 * The `pci0` bus driver: attaches the first of `drivers` that claims each function of bus 0 —
 * `devices` when early boot already enumerated it, else it enumerates now.
 */
export function pciBusDriver(drivers: readonly PciDriver[], devices?: readonly PciDevinfo[]): Driver {
  return {
    name: 'pci',
    description: 'PCI bus',
    *attach(k, dev) {
      for (const info of devices ?? (yield* pciEnumerate(k.v, 0))) {
        const driver = drivers.map((d) => d.probe(info)).find((d) => d !== undefined);
        if (driver !== undefined) {
          yield* deviceAttach(k, dev, driver);
          continue;
        }
        const cls = `${info.baseclass.toString(16).padStart(2, '0')}${info.subclass.toString(16).padStart(2, '0')}`;
        k.printf(`${dev.nameunit}: <${hex4(info.vendor)}:${hex4(info.device)} class ${cls}> at device ${info.slot}.${info.func} (no driver attached)`);
      }
    },
  };
}

/** One line per BAR, as `pciconf -lb` shows them. */
export function describeBars(info: PciDevinfo): string[] {
  return info.bars.map((b) => `bar [${(0x10 + 4 * b.index).toString(16)}] = type ${b.kind === 'io' ? 'I/O Port' : b.prefetchable ? 'Prefetchable Memory' : 'Memory'}, range 0x${b.base.toString(16)}-0x${(b.base + b.size - 1).toString(16)}, size ${b.size}`);
}
