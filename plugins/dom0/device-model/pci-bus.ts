/**
 * The device model's PCI bus 0: an i440FX host bridge at 00:00.0, a PIIX3 ISA bridge at 00:01.0, the
 * devices device models register, and configuration mechanism #1 on ports 0xCF8 (address) and
 * 0xCFC–0xCFF (data), as QEMU's i440fx/piix3 present them to hvmloader.
 */
import { GuestError, type InterruptLine, type IoRegistrar, type IoRegistration, type IoreqServer, type PciBus, type PciDevice, type PciDeviceSpec } from '../../../core/api/index.js';
import { gsi, ioPort } from '../../../core/public/index.js';
import { PciConfigSpace } from './pci-config.js';

const CONFIG_ADDRESS = 0xcf8;
/** PIIX3's reset control register: byte accesses at 0xCF9 (core/public/acpi.ts RCR_IOPORT). */
const RESET_CONTROL = 0xcf9;
const SLOTS = 32;
/** PIIX3 PIRQ route control registers (PIRQRC[A:D], 0x60–0x63): 0x80 = routing disabled at reset. */
const PIIX_PIRQRC = 0x60;

/** Xen's hvm_pci_intx_gsi: where INTx `intx` of device `dev` on bus 0 lands on the IO-APIC. */
export function pciIntxGsi(dev: number, intx: number): number {
  return ((((dev << 2) + (dev >> 3) + intx) & 31) + 16);
}

/** Device-specific config bytes 0x40..0xff kept as written (the bridges' chipset registers). */
function chipsetRegisters(defaults: Readonly<Record<number, number>> = {}): Pick<PciDeviceSpec, 'configRead' | 'configWrite'> {
  const bytes = new Uint8Array(256);
  for (const [at, v] of Object.entries(defaults)) bytes[Number(at)] = v;
  return {
    configRead: (offset, size) => {
      let value = 0;
      for (let i = size - 1; i >= 0; i--) value = value * 256 + (bytes[offset + i] ?? 0);
      return value >>> 0;
    },
    configWrite: (offset, size, value) => {
      for (let i = 0; i < size && offset + i < 256; i++) bytes[offset + i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
    },
  };
}

/** The i440FX PMC (host bridge) and PIIX3 (ISA bridge) functions. */
export const I440FX: PciDeviceSpec = { name: 'i440fx', vendorId: 0x8086, deviceId: 0x1237, classCode: 0x060000, revision: 0x02, interruptPin: 0, bars: [], ...chipsetRegisters() };
export const PIIX3: PciDeviceSpec = {
  name: 'piix3',
  vendorId: 0x8086,
  deviceId: 0x7000,
  classCode: 0x060100,
  revision: 0,
  interruptPin: 0,
  bars: [],
  ...chipsetRegisters({ [PIIX_PIRQRC]: 0x80, [PIIX_PIRQRC + 1]: 0x80, [PIIX_PIRQRC + 2]: 0x80, [PIIX_PIRQRC + 3]: 0x80 }),
};

interface Slot {
  readonly config: PciConfigSpace;
  readonly device: PciDevice;
}

/** Bus 0 of one guest. */
export class PciHost implements PciBus {
  private readonly slots: (Slot | undefined)[] = new Array<Slot | undefined>(SLOTS).fill(undefined);
  private address = 0;
  private readonly ports: IoRegistration;
  /** Who answers byte accesses to 0xCF9 (the reset control register), if a device claimed it. */
  private resetControl: { read(): number; write(value: number): void } | undefined;

  constructor(
    io: IoRegistrar,
    private readonly server: IoreqServer,
  ) {
    this.ports = io.registerPorts(ioPort(CONFIG_ADDRESS), 8, { read: (o, s) => this.portRead(o, s), write: (o, s, v) => this.portWrite(o, s, v) });
    this.register(I440FX, 0);
    this.register(PIIX3, 1);
  }

  claimResetControl(handler: { read(): number; write(value: number): void }): IoRegistration {
    if (this.resetControl !== undefined) throw new GuestError('EEXIST', 'pci: the reset control register at 0xcf9 is claimed already');
    this.resetControl = handler;
    const pci = this;
    return {
      start: RESET_CONTROL,
      length: 1,
      owner: 'reset-control',
      get active() {
        return pci.resetControl === handler;
      },
      dispose() {
        if (pci.resetControl === handler) pci.resetControl = undefined;
      },
    };
  }

  register(spec: PciDeviceSpec, slot?: number): PciDevice {
    const at = slot ?? this.slots.findIndex((s, i) => i >= 2 && s === undefined);
    if (at === -1) throw new GuestError('ENOSPC', `pci: no free slot on bus 0 for ${spec.name}`);
    if (!Number.isInteger(at) || at < 0 || at >= SLOTS) throw new GuestError('EINVAL', `pci: ${spec.name} asks for slot ${at} (0-${SLOTS - 1})`);
    const taken = this.slots[at];
    if (taken !== undefined) throw new GuestError('EEXIST', `pci: slot ${at} is taken by ${taken.config.spec.name}, wanted by ${spec.name}`);
    const config = new PciConfigSpace(spec);
    const intx = this.intxLine(at, spec, config);
    const device: PciDevice = {
      device: at,
      intx,
      unregister: () => {
        if (this.slots[at]?.device !== device) return;
        if (intx.asserted) intx.deassert();
        config.unmapAll();
        this.slots[at] = undefined;
      },
    };
    this.slots[at] = { config, device };
    return device;
  }

  /** The function in `slot` (tests, dumps). */
  configOf(slot: number): PciConfigSpace | undefined {
    return this.slots[slot]?.config;
  }

  /** Every device leaves the bus, the ports are released. */
  dispose(): void {
    for (const s of this.slots) s?.device.unregister();
    this.ports.dispose();
  }

  /** `lspci`-style lines. */
  dump(): string {
    return this.slots
      .flatMap((s, i) => (s === undefined ? [] : [`00:${i.toString(16).padStart(2, '0')}.0 ${s.config.spec.vendorId.toString(16).padStart(4, '0')}:${s.config.spec.deviceId.toString(16).padStart(4, '0')} ${s.config.spec.name}`]))
      .join('\n');
  }

  private intxLine(slot: number, spec: PciDeviceSpec, config: PciConfigSpace): InterruptLine {
    const pin = spec.interruptPin;
    const server = this.server;
    let asserted = false;
    const drive = (high: boolean): void => {
      config.setIntxStatus(high);
      if (pin >= 1 && pin <= 4) server.setPciIntxLevel(slot, pin - 1, high && !config.intxDisabled);
    };
    return {
      gsi: gsi(pciIntxGsi(slot, Math.max(pin - 1, 0))),
      get asserted() {
        return asserted;
      },
      assert() {
        asserted = true;
        drive(true);
      },
      deassert() {
        asserted = false;
        drive(false);
      },
      pulse() {
        drive(true);
        drive(asserted);
      },
    };
  }

  /** The function CONFIG_ADDRESS selects, or undefined (disabled, another bus, a function other than 0, an empty slot). */
  private selected(): PciConfigSpace | undefined {
    if ((this.address & 0x8000_0000) === 0) return undefined;
    const bus = (this.address >>> 16) & 0xff;
    const fn = (this.address >>> 8) & 0x7;
    if (bus !== 0 || fn !== 0) return undefined;
    return this.slots[(this.address >>> 11) & 0x1f]?.config;
  }

  private portRead(offset: number, size: number): number {
    if (offset === 1 && size === 1 && this.resetControl !== undefined) return this.resetControl.read() & 0xff;
    if (offset < 4) return offset === 0 && size === 4 ? this.address >>> 0 : 0xffff_ffff;
    const config = this.selected();
    const reg = (this.address & 0xfc) + (offset - 4);
    return config === undefined ? 0xffff_ffff : config.read(reg, size);
  }

  private portWrite(offset: number, size: number, value: number): void {
    if (offset < 4) {
      // Only a dword write to 0xCF8 latches CONFIG_ADDRESS (byte writes reach 0xCF9, PIIX's reset control).
      if (offset === 0 && size === 4) this.address = (value & 0x80ff_fffc) >>> 0;
      else if (offset === 1 && size === 1) this.resetControl?.write(value & 0xff);
      return;
    }
    const config = this.selected();
    if (config === undefined) return;
    const reg = (this.address & 0xfc) + (offset - 4);
    config.write(reg, size, value);
    const slot = this.slots.findIndex((s) => s?.config === config);
    // INTx disable may have changed: the pin follows.
    const s = this.slots[slot];
    if (s !== undefined && s.config.spec.interruptPin >= 1 && s.config.spec.interruptPin <= 4 && reg <= 0x05 && reg + size > 0x05) {
      this.server.setPciIntxLevel(slot, s.config.spec.interruptPin - 1, s.device.intx.asserted && !s.config.intxDisabled);
    }
  }
}
