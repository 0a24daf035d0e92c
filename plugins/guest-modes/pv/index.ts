/** The `pv` guest-mode plugin's manifest: adds the PV mode to the host's guest modes. */
import { GuestModes, NoOptions, PvMm, definePlugin } from '../../../core/api/index.js';
import { pvMode } from './provider.js';

export { pvMode, pvMinimumPages } from './provider.js';
export { buildInitialPageTables, tableCounts } from './page-tables.js';
export { PV_CONSOLE_PFN, PV_P2M_LIST_ADDR, PV_START_INFO_ADDR, PV_STORE_PFN } from './start-info.js';

export default definePlugin({
  name: 'pv',
  version: '0.1.0',
  kind: 'guest-mode',
  engine: '^0.1.0',
  description: 'The PV guest mode: start_info boot with initial page tables of machine frames, the PV MMU, trapped privileged instructions',
  provides: ['PV'],
  requires: ['PV_MMU', 'EVENT_CHANNELS', 'GRANT_TABLES'],
  configSchema: NoOptions,
  register(ctx) {
    // The PV MMU is a core subsystem made with the CPU pool, after plugins register: look it up at build time.
    const pvMm = (): PvMm | undefined => (ctx.container.isRegistered(PvMm, true) ? ctx.container.resolve(PvMm) : undefined);
    ctx.resolve(GuestModes).register(pvMode({ pvMm, log: ctx.log }));
  },
});
