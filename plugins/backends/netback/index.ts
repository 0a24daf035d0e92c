/** The netback plugin's manifest: the network backend, joining each guest's vifs to Dom0's bridges. */
import { Bridges, Dom0Tasks, DomainRegistry, EventChannels, GrantTables, PluginError, Xenstore, definePlugin, token } from '../../../core/api/index.js';
import { Netback } from './backend.js';
import { NetbackOptions } from './options.js';

export { Netback, type VifInfo } from './backend.js';
export type { VifStats } from './rings.js';

/** The running network backend (network-list, leak checks). */
export const NetworkBackend = token<Netback>('NetworkBackend');

/** The `netback` plugin. */
export default definePlugin({
  name: 'netback',
  version: '0.1.0',
  kind: 'backend',
  engine: '^0.1.0',
  description: 'The network backend: each vif on its bridge, tx gathered through grants, rx copied into the frontend\'s posted buffers (request-rx-copy)',
  provides: ['NETBACK'],
  requires: ['XENSTORE', 'EVENT_CHANNELS', 'BRIDGES'],
  configSchema: NetbackOptions,
  register(ctx) {
    let backend: Netback | undefined;
    return {
      start() {
        const xenstore = ctx.resolve(Xenstore);
        if (xenstore.dom0 === undefined) throw new PluginError('netback', 'the XENSTORE provider offers no Dom0 client (Xenstore.dom0)');
        backend = new Netback({
          xenstore: xenstore.dom0,
          evtchn: ctx.resolve(EventChannels),
          grants: ctx.resolve(GrantTables),
          domains: ctx.resolve(DomainRegistry),
          tasks: ctx.resolve(Dom0Tasks),
          bridges: ctx.resolve(Bridges),
          log: ctx.log,
          rxQueue: ctx.options.rxQueue,
          batch: ctx.options.batch,
        });
        ctx.provide(NetworkBackend, backend);
        backend.start();
      },
      dispose() {
        backend?.dispose();
      },
    };
  },
});
