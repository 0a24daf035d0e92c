/** The `hvm` guest-mode plugin's manifest: adds the HVM mode (firmware boot, everything emulated but the CPU). */
import { DeviceModelHost, GuestModes, NoOptions, definePlugin } from '../../../core/api/index.js';
import { hvmFamilyMode } from './provider.js';

export { hvmFamilyMode, type HvmModeDeps } from './provider.js';
export { hvmLayout, hvmMemory } from './layout.js';
export { hvmInfoTable } from './hvm-info.js';
export { hvmFirmware, readHvmInfo, type FirmwareReport } from './firmware/firmware.js';
export { buildAcpiTables, buildMadt, buildDsdt, buildFadt, checksum8, madtOverrides, type AcpiConfig, type AcpiTables } from './firmware/acpi-tables.js';
export * from './firmware/boot-metadata.js';
export { pciIntxGsi, PCI_IO_START, PCI_MEM_START } from './firmware/pci.js';

export default definePlugin({
  name: 'hvm',
  version: '0.1.0',
  kind: 'guest-mode',
  engine: '^0.1.0',
  description: 'The HVM guest mode: hvm_info_table, libxc special pages, an hvmloader-like firmware, a device model per guest',
  provides: ['HVM'],
  requires: ['APIC', 'EVENT_CHANNELS'],
  configSchema: NoOptions,
  register(ctx) {
    // The device-model host is provided when its plugin starts, after registration: look it up per build.
    const deviceModelHost = (): DeviceModelHost | undefined => ctx.resolveAll(DeviceModelHost)[0];
    ctx.resolve(GuestModes).register(hvmFamilyMode('hvm', { deviceModelHost, log: ctx.log }));
  },
});
