/** The xen-platform plugin's manifest: the Xen platform PCI device of PVHVM guests. */
import { DeviceModel, NoOptions, definePlugin } from '../../../core/api/index.js';
import { XenPlatformDevice } from './platform.js';

export { XenPlatformDevice, UNPLUG, UNPLUG_MAGIC, UNPLUG_BLACKLISTED, UNPLUG_PROTOCOL_VERSION, XEN_PLATFORM_PCI, type UnplugState } from './platform.js';

/** The `xen-platform` device model: PVHVM guests (an HVM config with `xen_platform_pci = 1`). */
export const xenPlatformModel: DeviceModel = {
  name: 'xen-platform',
  wanted: (config, mode) => mode === 'pvhvm' && config.xenPlatformPci,
  create: (ctx) => new XenPlatformDevice(ctx),
};

/** The `xen-platform` plugin. */
export default definePlugin({
  name: 'xen-platform',
  version: '0.1.0',
  kind: 'device-model',
  engine: '^0.1.0',
  description: 'The Xen platform PCI device (5853:0001) and the emulated-device unplug ports 0x10-0x13, for PVHVM guests',
  provides: ['XEN_PLATFORM_PCI'],
  requires: ['DEVICE_MODEL'],
  configSchema: NoOptions,
  register(ctx) {
    ctx.provide(DeviceModel, xenPlatformModel);
  },
});
