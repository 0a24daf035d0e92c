/**
 * atapci(4) for PCI IDE controllers in compatibility mode (FreeBSD's ata-pci.c with ata-intel.c's PIIX
 * table): the two legacy channels as ata0 and ata1, bus mastering through BAR4, and on each channel
 * the ATA disks IDENTIFY finds, attached as ada0, ada1... and listed in `k.disks`.
 */
import type { VcpuRequest } from '../../../../../core/api/index.js';
import { Device, deviceAttach, type Driver } from '../../kern/bus.js';
import type { Kernel } from '../../kern/kernel.js';
import type { PciDevinfo, PciDriver } from '../pci/pci.js';
import { PCIR, pciCfgRead, pciCfgWrite } from '../pci/pci_cfgreg.js';
import { AtaChannel, ataVector, type AtaChannelResources, type AtaIntrContext } from './ata_channel.js';
import { AdaDisk } from './ata_disk.js';
import { parseAtaParams } from './ata_params.js';
import { ATA_LEGACY } from './ata_reg.js';

/** What the driver needs from the machine-dependent layer to take IRQ 14 and 15. */
export type AtaPciContext = AtaIntrContext;

/** PCI class 01 (mass storage), subclass 01 (IDE). */
const PCIC_STORAGE = 0x01;
const PCIS_STORAGE_IDE = 0x01;
const PCIM_CMD_BUSMASTEREN = 0x4;
/** The bus-master BAR (PCIR_BAR(4)). */
const ATA_BMADDR_BAR = 4;
/** ata-intel.c's names, by device << 16 | vendor. */
const CONTROLLERS: ReadonlyMap<number, string> = new Map([
  [0x7010_8086, 'Intel PIIX3 WDMA2 controller'],
  [0x7111_8086, 'Intel PIIX4 UDMA33 controller'],
]);

const hex = (n: number): string => `0x${n.toString(16)}`;

/** IDENTIFY on both drives of `channel` and an ada for each ATA disk that answers. */
function* probeDrives(k: Kernel, dev: Device, channel: AtaChannel, res: AtaChannelResources): Generator<VcpuRequest, void, unknown> {
  for (const unit of [0, 1]) {
    const data = yield* channel.identify(k.bsp, unit);
    if (data === undefined) continue;
    const params = parseAtaParams(data);
    if (params.sectors === 0 || !params.dma || res.bmBase === undefined) {
      k.printf(`${dev.nameunit}: drive ${unit} <${params.model}> not attached (${params.sectors === 0 ? 'no sectors' : 'no DMA'})`);
      continue;
    }
    yield* channel.setupDma(k.v);
    const unitNo = k.devices.filter((d) => d.name === 'ada').length;
    const disk = new AdaDisk(`ada${unitNo}`, params, channel, unit);
    const node = new Device('ada', unitNo, params.model, dev);
    dev.children.push(node);
    k.devices.push(node);
    for (const line of disk.attachLines(dev.unit)) k.printf(line);
    k.disks.push(disk);
  }
}

function channelDriver(index: number, res: AtaChannelResources, ctx: AtaPciContext): Driver {
  return {
    name: 'ata',
    description: 'ATA channel',
    *attach(k: Kernel, dev: Device) {
      const channel = new AtaChannel(k, dev.nameunit, res);
      k.printf(`${dev.nameunit}: channel ${index} port ${hex(res.base)}-${hex(res.base + 7)},${hex(res.ctl)} irq ${res.irq} vector ${hex(ataVector(res.irq))}`);
      yield* channel.setupInterrupt(ctx);
      yield* channel.reset(k.v);
      // The drives are probed once the kernel's clock runs (FreeBSD's config_intrhook: CAM attaches ada
      // after interrupts and timers are up), so a command that never completes times out instead of
      // hanging the boot. By then a PVHVM kernel's xenpci has also unplugged the emulated disks.
      k.cpuStart.push(function* (cpu) {
        if (cpu === k.bsp) yield* probeDrives(k, dev, channel, res);
      });
    },
  };
}

function atapciDriver(info: PciDevinfo, ctx: AtaPciContext): Driver {
  const id = (info.device << 16) | info.vendor;
  return {
    name: 'atapci',
    description: CONTROLLERS.get(id >>> 0) ?? `Generic ATA controller ${info.vendor.toString(16).padStart(4, '0')}:${info.device.toString(16).padStart(4, '0')}`,
    *attach(k, dev) {
      const bm = info.bars.find((b) => b.index === ATA_BMADDR_BAR && b.kind === 'io');
      const ports = ATA_LEGACY.map((c) => `${hex(c.base)}-${hex(c.base + 7)},${hex(c.ctl)}`);
      if (bm !== undefined) ports.push(`${hex(bm.base)}-${hex(bm.base + bm.size - 1)}`);
      k.printf(`${dev.nameunit}: port ${ports.join(',')} at device ${info.slot}.${info.func}`);
      if (bm !== undefined) {
        const command = yield* pciCfgRead(k.v, info, PCIR.COMMAND, 2);
        if (!(command & PCIM_CMD_BUSMASTEREN)) yield* pciCfgWrite(k.v, info, PCIR.COMMAND, 2, command | PCIM_CMD_BUSMASTEREN);
      }
      for (const [i, c] of ATA_LEGACY.entries()) {
        yield* deviceAttach(k, dev, channelDriver(i, { ...c, bmBase: bm === undefined ? undefined : bm.base + 8 * i }, ctx));
      }
    },
  };
}

/** The PCI driver: claims IDE controllers (class 0101). */
export function ataPciDriver(ctx: AtaPciContext): PciDriver {
  return {
    name: 'atapci',
    probe: (info) => (info.baseclass === PCIC_STORAGE && info.subclass === PCIS_STORAGE_IDE ? atapciDriver(info, ctx) : undefined),
  };
}
