/** The `pvh` guest-mode plugin's manifest: adds the PVH mode to the host's guest modes. */
import { GuestModes, NoOptions, definePlugin } from '../../../core/api/index.js';
import { pvhMode } from './provider.js';

export { pvhMode } from './provider.js';
export { PVH_CMDLINE_ADDR, PVH_CONSOLE_GFN, PVH_MEMMAP_ADDR, PVH_START_INFO_ADDR, PVH_STORE_GFN } from './start-info.js';

export default definePlugin({
  name: 'pvh',
  version: '0.1.0',
  kind: 'guest-mode',
  engine: '^0.1.0',
  description: 'The PVH guest mode: direct boot with hvm_start_info, HAP, PV interfaces, no device model',
  provides: ['PVH'],
  requires: ['APIC', 'EVENT_CHANNELS', 'GRANT_TABLES'],
  configSchema: NoOptions,
  register(ctx) {
    ctx.resolve(GuestModes).register(pvhMode());
  },
});
