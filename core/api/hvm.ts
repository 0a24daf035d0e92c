/**
 * The HVM platform's contracts with Dom0: ioreq servers (a device model's window onto its guest's
 * exits, Xen's XEN_DMOP_* interface), the device-model plugins a device-model host runs, and the host
 * itself, which the toolstack starts once per HVM/PVHVM guest (libxl's spawn of QEMU).
 */
import type { Dom0Job } from './dom0.js';
import type { GuestMode } from './domain.js';
import type { GuestAccess } from './memory.js';
import type { IoRegistrar, IoRegistration } from './io.js';
import type { InterruptLine, MsiMessage } from './interrupts.js';
import type { DomainConfig } from '../config/domain-config.js';
import type { CostName } from '../engine/cost-model.js';
import { token } from './tokens.js';

// ---------------------------------------------------------------------------------------------
// Ioreq servers (the hypervisor's side; the core provides them).

/**
 * One ioreq server (XEN_DMOP_create_ioreq_server): the accesses of its guest that fall in the ranges it
 * mapped are written into its shared page as `ioreq_t` (core/public/ioreq.ts) — one slot per guest
 * vCPU — and the vCPU waits until the server answers. Accesses no server claims go to Xen's null
 * handler (reads all ones, writes dropped).
 */
export interface IoreqServer {
  readonly id: number;
  /** The guest it serves. */
  readonly domid: number;
  /** The `shared_iopage_t` (4096 bytes): vCPU `n`'s ioreq at `n * IOREQ_SIZE`. */
  readonly page: Uint8Array;
  /**
   * Calls `fn` (inside the simulation) each time a guest vCPU's ioreq becomes STATE_IOREQ_READY — what
   * the notification on the vCPU's `vp_eport` tells the device model. Returns a remover.
   */
  onRequest(fn: (vcpu: number) => void): () => void;
  /** XEN_DMOP_map_io_range_to_ioreq_server: claims ports or guest-physical bytes `start..end` (inclusive). `GuestError('EEXIST')` on overlap with another server's range. */
  mapRange(space: 'pio' | 'mmio', start: number, end: number): void;
  /** XEN_DMOP_unmap_io_range_from_ioreq_server. */
  unmapRange(space: 'pio' | 'mmio', start: number, end: number): void;
  /**
   * The device model wrote its answer into vCPU `vcpu`'s slot (data for a read, state
   * STATE_IORESP_READY) and notifies: the core completes the instruction and wakes the vCPU.
   * `GuestError('EINVAL')` when that slot holds no request in process.
   */
  complete(vcpu: number): void;
  /** XEN_DMOP_set_isa_irq_level: ISA IRQ `irq` (0-15) of the guest's emulated PIC/IO-APIC. */
  setIsaIrqLevel(irq: number, high: boolean): void;
  /** XEN_DMOP_set_pci_intx_level: INTx `intx` (0 = INTA) of PCI device `device` on bus 0 (Xen's hvm_pci_intx_gsi routing). */
  setPciIntxLevel(device: number, intx: number, high: boolean): void;
  /** XEN_DMOP_inject_msi. */
  injectMsi(message: MsiMessage): void;
  /** The guest's memory by guest-physical address (the device model's foreign mapping, for DMA). */
  readonly guestMemory: GuestAccess;
  /** XEN_DMOP_destroy_ioreq_server: releases its ranges; vCPUs waiting on it get all ones. Idempotent. */
  destroy(): void;
}

/** The core's ioreq servers. */
export interface IoreqServers {
  /** Creates a server for HVM guest `domid` (ESRCH unknown domain, EINVAL for a PV/PVH domain). */
  create(domid: number): IoreqServer;
  /** Servers of `domid`, oldest first. */
  serversOf(domid: number): readonly IoreqServer[];
}
export const IoreqServers = token<IoreqServers>('IoreqServers');

// ---------------------------------------------------------------------------------------------
// Device-model plugins (run by the device-model host, one instance per guest).

/** A PCI BAR a device asks for; the guest's firmware assigns its address. */
export interface PciBarSpec {
  readonly kind: 'io' | 'mmio';
  /** Bytes, a power of two. */
  readonly size: number;
  readonly prefetchable?: boolean;
  /** The BAR register it occupies (0-5); by default its position in {@link PciDeviceSpec.bars}. PIIX IDE's bus-master BAR is BAR4 with BARs 0-3 unimplemented. */
  readonly index?: number;
}

/** A PCI function's identity and resources (type 0 header). */
export interface PciDeviceSpec {
  readonly name: string;
  readonly vendorId: number;
  readonly deviceId: number;
  /** base class << 16 | subclass << 8 | prog-if. */
  readonly classCode: number;
  readonly revision: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  /** 1 = INTA .. 4 = INTD; 0 = none. */
  readonly interruptPin: number;
  readonly bars: readonly PciBarSpec[];
  /** Called when the guest enables decoding of BAR `index` at `address` (and with `undefined` when it disables it or moves it). */
  onBarMapped?(index: number, address: number | undefined): void;
  /** Device-specific config registers at 0x40..0xff (byte offsets); reads of others give 0. */
  configRead?(offset: number, size: number): number;
  configWrite?(offset: number, size: number, value: number): void;
}

/** A device registered on the emulated PCI bus. */
export interface PciDevice {
  /** Bus 0 device number. */
  readonly device: number;
  /** Drives the device's INTx pin. */
  readonly intx: InterruptLine;
  unregister(): void;
}

/** The device-model's PCI host bridge (i440FX-style, configuration mechanism #1 on ports 0xCF8/0xCFC). */
export interface PciBus {
  /** Places the device at `slot` or the next free slot (0 is the host bridge, 1 the ISA bridge). */
  register(spec: PciDeviceSpec, slot?: number): PciDevice;
  /**
   * Claims the PIIX3 reset control register: byte accesses to port 0xCF9, which sits inside the host
   * bridge's 0xCF8-0xCFF window (only dword accesses at 0xCF8 are CONFIG_ADDRESS). `EEXIST` when a
   * device holds it already.
   */
  claimResetControl(handler: { read(): number; write(value: number): void }): IoRegistration;
}

/** A serial line to the outside: what a UART sends, and what is typed at it. */
export interface SerialLine {
  write(text: string): void;
  onInput(fn: (text: string) => void): () => void;
}

/** What one device model instance is given. */
export interface DeviceModelContext {
  readonly domid: number;
  readonly config: DomainConfig;
  readonly mode: GuestMode;
  /** Claims ports and MMIO of the guest (the host maps them on its ioreq server). */
  readonly io: IoRegistrar;
  /** An ISA interrupt line (IRQ 0-15), through XEN_DMOP_set_isa_irq_level. */
  isaIrq(irq: number): InterruptLine;
  readonly pci: PciBus;
  /** The guest's memory by guest-physical address (DMA). */
  readonly memory: GuestAccess;
  /** Serial port `index` (0 = COM1) as the domain's config connects it (`serial = "pty"` → its console), or undefined when none. */
  serial(index: number): SerialLine | undefined;
  /** Virtual time, ns. */
  now(): number;
  /** Runs `fn` at virtual time `at` as Dom0 work; returns a canceller (device timers: PIT, RTC). */
  timer(at: number, fn: () => void): () => void;
  /**
   * Ends the guest as the platform's hardware asks (QEMU's xc_domain_shutdown after an ACPI S5 write or
   * a reset request): the core's domain shutdown with that reason, so the toolstack applies
   * on_poweroff / on_reboot.
   */
  shutdown(reason: 'poweroff' | 'reboot'): void;
  /**
   * Charges work the device does beyond the ioreq itself (a DMA copy, an image access) to the Dom0 vCPU
   * running this device model now: `times` × the cost-model entry `cost`. Does nothing outside the
   * model's own ioreq and timer tasks (code called from elsewhere defers its work with `timer`).
   */
  charge(cost: CostName, times?: number): void;
  /** Spends `cycles` of Dom0 computation, as {@link DeviceModelContext.charge} does. */
  compute(cycles: number): void;
  /**
   * The platform's unplug protocol took over emulated devices (the Xen platform device's port 0x10):
   * every device of this guest's model is offered `what` through {@link EmulatedDevice.onUnplug}.
   */
  unplug(what: EmulatedUnplug): void;
  /** Reports a guest-visible problem (a bad register write), naming the device and domain. */
  warn(message: string): void;
  /** Logs what the device reports in the normal course (a guest's log port, an unplug), naming the device and domain. */
  info(message: string): void;
}

/** An emulated device made for one guest. */
export interface EmulatedDevice {
  /** Debug state (QEMU's `info` commands). */
  dump?(): string;
  /** Releases everything it claimed; called when the guest dies. */
  dispose(): void;
  /** A trigger from the toolstack (xl trigger / `shutdown -F`); returns true when this device acted on it. */
  trigger?(kind: DeviceModelTrigger): boolean;
  /** Lets go of what an unplug request names (QEMU's pci_unplug_disks / pci_unplug_nics): those disks or NICs vanish for the guest. Idempotent. */
  onUnplug?(what: EmulatedUnplug): void;
}

/**
 * What the Xen platform device's unplug mask asks for (docs/misc/hvm-emulated-unplug.pandoc):
 * UNPLUG_ALL_IDE_DISKS (1) every emulated IDE disk, UNPLUG_AUX_IDE_DISKS (4) every one but the primary
 * master, UNPLUG_ALL_NICS (2) every emulated NIC. CD-ROM drives are never unplugged.
 */
export type EmulatedUnplug = 'ide-disks' | 'aux-ide-disks' | 'nics';

/** libxl's triggers a device model carries out: LIBXL_TRIGGER_POWER (the ACPI power button) and LIBXL_TRIGGER_RESET. */
export type DeviceModelTrigger = 'power' | 'reset';

/** A device-model plugin's contribution: one kind of emulated device. */
export interface DeviceModel {
  /** `uart16550`, `pit8254`, `rtc146818`, `xen-platform`... */
  readonly name: string;
  /** Whether a guest with this config and mode gets one (the platform PCI device only with `xen_platform_pci=1`). */
  wanted(config: DomainConfig, mode: GuestMode): boolean;
  create(ctx: DeviceModelContext): EmulatedDevice;
}
/** Registered by each device-model plugin (many providers; the host resolves them all). */
export const DeviceModel = token<DeviceModel>('DeviceModel');

/** A running device model. */
export interface DeviceModelInstance {
  readonly domid: number;
  /** Names of the devices it emulates, in creation order. */
  readonly devices: readonly string[];
  /** Ioreqs handled so far. */
  readonly requests: number;
}

/** The device-model host (Dom0 service): one device model per HVM or PVHVM guest, its work charged to Dom0. */
export interface DeviceModelHost {
  /** Starts guest `domid`'s device model (writes `/local/domain/0/device-model/<domid>/state = running` when ready). */
  start(domid: number, config: DomainConfig, mode: GuestMode): Dom0Job<DeviceModelInstance>;
  /** Stops and forgets it (the guest is being destroyed). Idempotent. */
  stop(domid: number): void;
  get(domid: number): DeviceModelInstance | undefined;
  /**
   * libxl_send_trigger: QEMU's system_powerdown ('power') or system_reset ('reset') for guest `domid`.
   * `ESRCH` when it has no running device model, `EOPNOTSUPP` when none of its devices carries the trigger.
   */
  trigger(domid: number, kind: DeviceModelTrigger): void;
}
export const DeviceModelHost = token<DeviceModelHost>('DeviceModelHost');
