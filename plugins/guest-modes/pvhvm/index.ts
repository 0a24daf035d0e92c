/** The `pvhvm` guest-mode plugin's manifest: HVM plus the Xen platform PCI device, for guests with PV drivers (xl's `xen_platform_pci = 1`). */
import { DeviceModelHost, GuestModes, NoOptions, definePlugin } from '../../../core/api/index.js';
import { hvmFamilyMode } from '../hvm/provider.js';

export default definePlugin({
  name: 'pvhvm',
  version: '0.1.0',
  kind: 'guest-mode',
  engine: '^0.1.0',
  description: 'The PVHVM guest mode: the HVM build and firmware, plus the Xen platform PCI device for PV drivers and the vector callback',
  provides: ['PVHVM'],
  requires: ['APIC', 'EVENT_CHANNELS', 'GRANT_TABLES'],
  configSchema: NoOptions,
  register(ctx) {
    const deviceModelHost = (): DeviceModelHost | undefined => ctx.resolveAll(DeviceModelHost)[0];
    ctx.resolve(GuestModes).register(hvmFamilyMode('pvhvm', { deviceModelHost, log: ctx.log }));
  },
});
