/** The rtl8139 plugin's manifest: RTL8139 NICs for the emulated (ioemu) vifs of HVM guests, wired to Dom0's bridges. */
import { Bridges, DeviceModel, NoOptions, definePlugin, type DeviceModelContext, type DomainConfig, type EmulatedDevice, type EmulatedUnplug } from '../../../core/api/index.js';
import { Rtl8139 } from './rtl8139.js';

type DomainVif = DomainConfig['vif'][number];

export { Rtl8139, RTL8139_PCI, type Rtl8139Stats } from './rtl8139.js';
export { RTL, CR, INT, TSD, RCR, RX, MSR } from './regs.js';
export { etherCrc32, etherCrc32Be } from './crc.js';

/** The vifs that get an RTL8139: type ioemu (the HVM default) and model rtl8139 or none given (libxl's default). */
export function rtl8139Vifs(vifs: readonly DomainVif[]): { vif: DomainVif; devid: number }[] {
  return vifs.flatMap((vif, index) => (vif.type === 'ioemu' && (vif.model === undefined || vif.model === 'rtl8139') ? [{ vif, devid: vif.devid ?? index }] : []));
}

/** Parses `xx:xx:xx:xx:xx:xx`. */
function macBytes(text: string): Uint8Array {
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}

/** The guest's RTL8139s, one per emulated vif, in vif order (the first is rl0 to the guest). */
export class Rtl8139Nics implements EmulatedDevice {
  readonly nics: Rtl8139[] = [];

  constructor(ctx: DeviceModelContext, bridges: () => Bridges | undefined) {
    try {
      for (const { vif, devid } of rtl8139Vifs(ctx.config.vif)) {
        const name = `tap${ctx.domid}.${devid}`;
        let mac = vif.mac;
        if (mac === undefined) {
          // The toolstack fills in MACs for xenstore only (see the report): derive one in Xen's OUI.
          mac = ['00', '16', '3e', ...[(ctx.domid >> 8) & 0x7f, ctx.domid & 0xff, devid & 0xff].map((b) => b.toString(16).padStart(2, '0'))].join(':');
          ctx.info(`${name}: vif ${devid} has no MAC in its config; using ${mac}`);
        }
        const nic = new Rtl8139(ctx, name, macBytes(mac));
        this.nics.push(nic);
        this.plugIn(ctx, nic, vif.bridge, bridges());
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  private plugIn(ctx: DeviceModelContext, nic: Rtl8139, bridgeName: string, bridges: Bridges | undefined): void {
    if (bridges === undefined) {
      ctx.warn(`${nic.name}: no bridge plugin to plug into ${bridgeName}: link down`);
      return;
    }
    try {
      nic.connect((port) => bridges.get(bridgeName).attach(port));
      ctx.info(`${nic.name}: on bridge ${bridgeName}`);
    } catch (error) {
      ctx.warn(`${nic.name}: cannot join bridge ${bridgeName}: ${error instanceof Error ? error.message : String(error)}: link down`);
    }
  }

  dump(): string {
    return this.nics.map((n) => n.dump()).join('; ');
  }

  /** QEMU's pci_unplug_nics: the NICs leave the PCI bus and their bridges. */
  onUnplug(what: EmulatedUnplug): void {
    if (what !== 'nics') return;
    for (const nic of this.nics) nic.dispose();
  }

  dispose(): void {
    for (const nic of this.nics) nic.dispose();
  }
}

/** The `rtl8139` device model; `bridges()` finds Dom0's bridges when a guest's model starts. */
export function rtl8139Model(bridges: () => Bridges | undefined): DeviceModel {
  return {
    name: 'rtl8139',
    wanted: (config, mode) => (mode === 'hvm' || mode === 'pvhvm') && rtl8139Vifs(config.vif).length > 0,
    create: (ctx) => new Rtl8139Nics(ctx, bridges),
  };
}

/** The `rtl8139` plugin. */
export default definePlugin({
  name: 'rtl8139',
  version: '0.1.0',
  kind: 'device-model',
  engine: '^0.1.0',
  description: 'RTL8139 NICs (10ec:8139) for the emulated vifs of HVM guests: rx ring, four tx descriptors, INTx; frames through the Dom0 bridge named by bridge=',
  provides: ['EMU_NIC'],
  requires: ['DEVICE_MODEL'],
  configSchema: NoOptions,
  register(ctx) {
    // The bridge plugin may start after this one: the bridges are looked up when a guest's model starts.
    ctx.provide(DeviceModel, rtl8139Model(() => ctx.resolveAll(Bridges)[0]));
  },
});
