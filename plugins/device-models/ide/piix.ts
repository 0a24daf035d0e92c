/**
 * The PIIX3 IDE controller (PCI 8086:7010, QEMU's piix3-ide) of an HVM guest: two legacy channels at
 * 0x1F0-0x1F7/0x3F6 (IRQ 14) and 0x170-0x177/0x376 (IRQ 15) in compatibility mode, bus-master DMA
 * through BAR4, and the disks libxl puts on them. Our PCI bus has function 0 only, so the controller
 * sits in a slot of its own rather than at 00:01.1 beside the ISA bridge.
 */
import type { DeviceModelContext, DiskImage, DiskSpec, EmulatedDevice, EmulatedUnplug, IoRegistration, PciDevice } from '../../../core/api/index.js';
import { ioPort } from '../../../core/public/index.js';
import { IdeChannel } from './channel.js';
import { ideDisks } from './disks.js';
import { IdeDrive } from './drive.js';

/** The function's identity: mass storage, IDE, prog-if 0x80 (compatibility mode on both channels, bus master). */
export const PIIX3_IDE = { vendorId: 0x8086, deviceId: 0x7010, classCode: 0x01_01_80, revision: 0 } as const;
/** Legacy resources of the primary and secondary channels. */
export const IDE_CHANNELS = [
  { command: 0x1f0, control: 0x3f6, irq: 14 },
  { command: 0x170, control: 0x376, irq: 15 },
] as const;
/** BAR4: the bus-master registers, 8 bytes per channel. */
export const BMIDE_BAR = 4;
const BMIDE_SIZE = 16;

/** Opens a disk's image (the plugin resolves the DiskImages provider). */
export type ImageOpener = (spec: DiskSpec) => DiskImage;

/** The controller of one guest: its PCI function, both channels and their legacy ports, the disks on them. */
export class PiixIde implements EmulatedDevice {
  readonly channels: IdeChannel[];
  private registered: PciDevice | undefined;
  private readonly ports: IoRegistration[] = [];
  private bmide: IoRegistration | undefined;
  /** PIIX's chipset registers 0x40-0xff (IDETIM, SIDETIM...), kept as written. */
  private readonly chipset = new Uint8Array(256);

  constructor(
    private readonly ctx: DeviceModelContext,
    open: ImageOpener,
  ) {
    this.channels = IDE_CHANNELS.map((c, i) => new IdeChannel(i, ctx, ctx.isaIrq(c.irq)));
    const { slots, skipped } = ideDisks(ctx.config.disk);
    for (const note of skipped) ctx.info(note);
    try {
      for (const slot of slots) {
        const image = open(slot.spec);
        this.channels[slot.index >> 1]!.attach(slot.index & 1, new IdeDrive(slot.index, slot.spec.vdev, image));
      }
      IDE_CHANNELS.forEach((c, i) => {
        const channel = this.channels[i]!;
        this.ports.push(ctx.io.registerPorts(ioPort(c.command), 8, { read: (o, s) => channel.readCommandBlock(o, s), write: (o, s, v) => channel.writeCommandBlock(o, s, v) }));
        this.ports.push(ctx.io.registerPorts(ioPort(c.control), 1, { read: () => channel.readControl(), write: (_o, _s, v) => channel.writeControl(v & 0xff) }));
      });
      this.registered = ctx.pci.register({
        name: 'piix3-ide',
        ...PIIX3_IDE,
        interruptPin: 0,
        bars: [{ kind: 'io', size: BMIDE_SIZE, index: BMIDE_BAR }],
        onBarMapped: (index, address) => this.barMapped(index, address),
        configRead: (offset, size) => this.chipsetRead(offset, size),
        configWrite: (offset, size, value) => this.chipsetWrite(offset, size, value),
      });
    } catch (error) {
      this.release();
      throw error;
    }
    for (const d of this.drives()) ctx.info(`${d.vdev} → ide${d.index >> 1} ${d.index & 1 ? 'slave' : 'master'}: ${d.path} (${d.sectors} sectors${d.readOnly ? ', read-only' : ''})`);
  }

  /** The PCI function (until disposed). */
  get pci(): PciDevice | undefined {
    return this.registered;
  }

  /** Every drive on the buses now. */
  drives(): IdeDrive[] {
    return this.channels.flatMap((c) => c.drives.filter((d): d is IdeDrive => d !== undefined));
  }

  /** QEMU's pci_xen_ide_unplug: the disks (not the primary master, for `aux-ide-disks`) leave the buses and their images close. */
  onUnplug(what: EmulatedUnplug): void {
    if (what === 'nics') return;
    for (const channel of this.channels) {
      for (const unit of [0, 1]) {
        const drive = channel.drives[unit];
        if (drive === undefined || (what === 'aux-ide-disks' && drive.index === 0)) continue;
        channel.remove(unit);
        const problem = drive.detach();
        if (problem !== undefined) this.ctx.warn(`unplug: ${problem}`);
        this.ctx.info(`${drive.vdev} unplugged (${what})`);
      }
      channel.quiesce();
    }
  }

  dump(): string {
    return this.channels.map((c) => c.dump()).join('; ');
  }

  dispose(): void {
    this.release();
  }

  private release(): void {
    for (const channel of this.channels) {
      for (const unit of [0, 1]) {
        const problem = channel.remove(unit)?.detach();
        if (problem !== undefined) this.ctx.warn(`closing ${problem}`);
      }
    }
    this.bmide?.dispose();
    this.bmide = undefined;
    for (const r of this.ports.splice(0)) r.dispose();
    this.registered?.unregister();
    this.registered = undefined;
  }

  private barMapped(index: number, address: number | undefined): void {
    if (index !== BMIDE_BAR) return;
    this.bmide?.dispose();
    this.bmide = undefined;
    if (address === undefined) return;
    this.bmide = this.ctx.io.registerPorts(ioPort(address), BMIDE_SIZE, {
      read: (o, s) => this.channels[o >> 3]!.bm.read(o & 7, Math.min(s, 8 - (o & 7))),
      write: (o, s, v) => this.channels[o >> 3]!.bm.write(o & 7, Math.min(s, 8 - (o & 7)), v),
    });
  }

  private chipsetRead(offset: number, size: number): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + (this.chipset[offset + i] ?? 0);
    return value >>> 0;
  }

  private chipsetWrite(offset: number, size: number, value: number): void {
    for (let i = 0; i < size && offset + i < 256; i++) this.chipset[offset + i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
  }
}
