/**
 * The Xen platform PCI device (QEMU's xen-platform, 5853:0001): what a PVHVM guest's xenpci driver
 * binds to, its BAR1 the free guest-physical space PV drivers map grant frames into, and the fixed
 * ports 0x10–0x13 of the emulated-device unplug protocol (docs/misc/hvm-emulated-unplug.pandoc).
 */
import type { DeviceModelContext, EmulatedDevice, IoRegistration, PciDevice } from '../../../core/api/index.js';
import { ioPort } from '../../../core/public/index.js';

/** The unplug protocol's magic, as read from port 0x10 (the byte-swapped 0xd249 says "blacklisted"). */
export const UNPLUG_MAGIC = 0x49d2;
export const UNPLUG_BLACKLISTED = 0xd249;
/** The protocol version read from port 0x12. */
export const UNPLUG_PROTOCOL_VERSION = 1;
/** Bits of the unplug mask written to port 0x10. */
export const UNPLUG = { allIdeDisks: 0x1, allNics: 0x2, auxIdeDisks: 0x4, nvme: 0x8 } as const;
/** The platform device's identity (xen-facts §11.5). */
export const XEN_PLATFORM_PCI = { vendorId: 0x5853, deviceId: 0x0001, classCode: 0xff8000, revision: 1 } as const;
const LOG_LINE_LIMIT = 1024;

/** What the guest told the unplug protocol. */
export interface UnplugState {
  /** The last mask written (0: nothing unplugged). */
  readonly mask: number;
  /** The PV product number and build the guest announced. */
  readonly product: number | undefined;
  readonly build: number | undefined;
  /** Emulated disks (vdev names) and NICs (vif indexes) gone, per the mask. */
  readonly disks: readonly string[];
  readonly nics: readonly number[];
}

/** The device for one guest. */
export class XenPlatformDevice implements EmulatedDevice {
  readonly pci: PciDevice;
  private readonly fixed: IoRegistration;
  private bar0: IoRegistration | undefined;
  /** Where BAR1 (the grant-frame space) decodes, once the guest's firmware placed it. */
  bar1: number | undefined;
  private flags = 0;
  private mask = 0;
  private product: number | undefined;
  private build: number | undefined;
  private logLine: number[] = [];
  /** Lines the guest's drivers logged through port 0x12. */
  readonly guestLog: string[] = [];

  constructor(private readonly ctx: DeviceModelContext) {
    this.fixed = ctx.io.registerPorts(ioPort(0x10), 4, { read: (o, s) => this.fixedRead(o, s), write: (o, s, v) => this.fixedWrite(o, s, v) });
    try {
      this.pci = ctx.pci.register({
        name: 'xen-platform',
        ...XEN_PLATFORM_PCI,
        subsystemVendorId: 0x5853,
        subsystemId: 0x0001,
        interruptPin: 1,
        bars: [
          { kind: 'io', size: 0x100 },
          { kind: 'mmio', size: 16 << 20, prefetchable: true },
        ],
        onBarMapped: (index, address) => this.barMapped(index, address),
      });
    } catch (error) {
      this.fixed.dispose();
      throw error;
    }
  }

  /** The unplug protocol's outcome: which emulated disks and NICs the guest's PV drivers took over. */
  get unplug(): UnplugState {
    const m = this.mask;
    const disks = this.ctx.config.disk.filter((d) => d.devtype !== 'cdrom').map((d) => d.vdev).filter((vdev) => m & UNPLUG.allIdeDisks || (m & UNPLUG.auxIdeDisks && vdev !== 'hda'));
    const nics = m & UNPLUG.allNics ? this.ctx.config.vif.flatMap((v, i) => (v.type === 'ioemu' ? [i] : [])) : [];
    return { mask: m, product: this.product, build: this.build, disks, nics };
  }

  dump(): string {
    const u = this.unplug;
    return `bar1 ${this.bar1 === undefined ? 'unmapped' : `0x${this.bar1.toString(16)}`} unplug mask 0x${u.mask.toString(16)} disks [${u.disks.join(' ')}] nics [${u.nics.join(' ')}]`;
  }

  dispose(): void {
    this.pci.unregister();
    this.bar0?.dispose();
    this.fixed.dispose();
  }

  private barMapped(index: number, address: number | undefined): void {
    if (index === 1) {
      this.bar1 = address;
      return;
    }
    this.bar0?.dispose();
    this.bar0 = address === undefined ? undefined : this.ctx.io.registerPorts(ioPort(address), 0x100, { read: (o) => this.barRead(o), write: (o, _s, v) => this.barWrite(o, v & 0xff) });
  }

  /** BAR0: byte 0 mirrors the platform flags, byte 8 is a log port (QEMU's xen-pci BAR). */
  private barRead(offset: number): number {
    return offset === 0 ? this.flags : 0xff;
  }

  private barWrite(offset: number, value: number): void {
    if (offset === 0) this.flags = value;
    else if (offset === 8) this.logByte(value);
  }

  private fixedRead(offset: number, size: number): number {
    if (offset === 0 && size === 2) return UNPLUG_MAGIC; // Never blacklisted: any PV driver is welcome.
    if (offset === 0 && size === 1) return this.flags;
    if (offset === 2 && size === 1) return UNPLUG_PROTOCOL_VERSION;
    return size === 4 ? 0xffff_ffff : (1 << (size * 8)) - 1;
  }

  private fixedWrite(offset: number, size: number, value: number): void {
    if (offset === 0 && size === 2) this.setMask(value);
    else if (offset === 0 && size === 4) this.build = value >>> 0;
    else if (offset === 0 && size === 1) this.flags = value & 0xff;
    else if (offset === 2 && size === 2) this.product = value;
    else if (offset === 2 && size === 1) this.logByte(value);
    else this.ctx.warn(`xen-platform: ${size}-byte write of 0x${value.toString(16)} to port 0x${(0x10 + offset).toString(16)} ignored`);
  }

  /** QEMU's platform_fixed_ioport_writew: ALL_IDE_DISKS wins over AUX_IDE_DISKS within one write; NICs go with ALL_NICS. */
  private setMask(value: number): void {
    this.mask |= value & 0xf;
    const u = this.unplug;
    this.ctx.info(`xen-platform: unplug 0x${value.toString(16)} (product ${u.product ?? '?'} build ${u.build ?? '?'}): disks [${u.disks.join(' ')}] nics [${u.nics.join(' ')}]`);
    if (value & UNPLUG.allIdeDisks) this.ctx.unplug('ide-disks');
    else if (value & UNPLUG.auxIdeDisks) this.ctx.unplug('aux-ide-disks');
    if (value & UNPLUG.allNics) this.ctx.unplug('nics');
  }

  /** Log bytes: a line per newline (or when it grows past 1 KiB). */
  private logByte(byte: number): void {
    if (byte !== 0x0a && this.logLine.length < LOG_LINE_LIMIT) {
      this.logLine.push(byte);
      return;
    }
    const line = new TextDecoder().decode(Uint8Array.from(this.logLine)).replace(/\r$/, '');
    this.logLine = byte === 0x0a ? [] : [byte];
    this.guestLog.push(line);
    this.ctx.info(`guest: ${line}`);
  }
}
