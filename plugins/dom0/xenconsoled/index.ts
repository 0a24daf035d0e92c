/** The xenconsoled plugin's manifest: guest consoles over the console ring, one Unix socket per domain. */
import { isAbsolute, join } from 'node:path';
import { Consoles, Dom0Tasks, DomainRegistry, Engine, EventChannels, PluginError, RunDir, Xenstore, definePlugin } from '../../../core/api/index.js';
import { ConsoleDaemon } from './daemon.js';
import { XenconsoledOptions } from './options.js';

export { ConsoleDaemon, type ConsoleDaemonDeps } from './daemon.js';
export { XenconsoledOptions } from './options.js';

/** The `xenconsoled` plugin. */
export default definePlugin({
  name: 'xenconsoled',
  version: '0.1.0',
  kind: 'dom0-service',
  engine: '^0.1.0',
  description: 'The console daemon: each guest\'s console ring, its log, and a raw socket at <run dir>/console/<domid>.sock',
  provides: ['XENCONSOLE'],
  requires: ['XENSTORE', 'EVENT_CHANNELS'],
  configSchema: XenconsoledOptions,
  register(ctx) {
    let daemon: ConsoleDaemon | undefined;
    return {
      // Dom0, its tasks and xenstored's Dom0 client exist only once the host has built its pool.
      start() {
        const xenstore = ctx.resolve(Xenstore);
        if (xenstore.dom0 === undefined) throw new PluginError('xenconsoled', 'the XENSTORE provider offers no Dom0 client (Xenstore.dom0)');
        const { socketDir, logLimit, inputLimit, clientBufferLimit, logDir } = ctx.options;
        daemon = new ConsoleDaemon({
          xenstore: xenstore.dom0,
          evtchn: ctx.resolve(EventChannels),
          domains: ctx.resolve(DomainRegistry),
          tasks: ctx.resolve(Dom0Tasks),
          engine: ctx.resolve(Engine),
          socketDir: socketDir ?? join(ctx.resolve(RunDir), 'console'),
          log: ctx.log,
          logLimit,
          inputLimit,
          clientBufferLimit,
          ...(logDir !== undefined ? { logDir: isAbsolute(logDir) ? logDir : join(ctx.resolve(RunDir), logDir) } : {}),
        });
        ctx.provide(Consoles, daemon);
        daemon.start();
      },
      async dispose() {
        await daemon?.dispose();
      },
    };
  },
});
