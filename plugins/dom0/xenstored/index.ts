/** The xenstored plugin's manifest: the store engine on a Unix socket and on every introduced guest's ring. */
import { Dom0Tasks, DomainRegistry, Engine, EventChannels, GuestError, RunDir, Xenstore, definePlugin, type Domain } from '../../../core/api/index.js';
import type { DomId } from '../../../core/public/index.js';
import { createXenstore } from './client.js';
import type { XsDomainHooks } from './connection.js';
import { createEngine, xenstoredCommand } from './daemon.js';
import { XenstoredOptions } from './options.js';
import { XsRingTransport } from './ring.js';
import { XsSocketServer } from './socket.js';

export type { XsConnection, XsSession, XsDomainHooks } from './connection.js';
export { XenstoredOptions } from './options.js';

/** The `xenstored` plugin. */
export default definePlugin({
  name: 'xenstored',
  version: '0.2.0',
  kind: 'dom0-service',
  engine: '^0.1.0',
  description: 'The xenstore daemon: C xenstored 4.17 protocol on a Unix socket and on guest rings',
  provides: ['XENSTORE'],
  requires: ['EVENT_CHANNELS', 'GRANT_TABLES'],
  configSchema: XenstoredOptions,
  commands: [xenstoredCommand],
  register(ctx) {
    let ids = 0;
    const nextId = (): number => ++ids;
    // The ring transport needs core services that exist only once the host has built its pool (start()).
    let ring: XsRingTransport | undefined;
    const hooks: XsDomainHooks = {
      introduce(domid, gfn, port) {
        if (ring === undefined) throw new GuestError('EAGAIN', 'xenstored: not started');
        ring.introduce(domid, gfn, port);
      },
      release: (domid) => ring?.release(domid),
      domainExists: (domid) => ring?.domainExists(domid) ?? domid === 0,
    };
    const { socket, accessLog, quotas } = ctx.options;
    const engine = createEngine({ hooks, log: ctx.log, accessLog, ...(quotas ? { quotas } : {}) });
    const sim = ctx.resolve(Engine);
    const socketPath = socket ?? `${ctx.resolve(RunDir)}/xenstored.sock`;
    // Socket requests are inputs from outside the simulation: they run at the current virtual time.
    const server = new XsSocketServer({ path: socketPath, engine, log: ctx.log.child('socket'), nextId, external: (input) => void sim.external(input) });
    ctx.provide(
      Xenstore,
      createXenstore({
        engine,
        socketPath,
        attached: () => ring?.attached() ?? [],
        defer: (fn) => {
          const handle = sim.after(0, fn);
          return () => void sim.cancel(handle);
        },
      }),
    );

    const gone = new Set<number>();
    const onDying = (d: Domain): void => domainGone(d.domid);
    const onDestroyed = (domid: DomId): void => domainGone(domid);
    const onCreated = (d: Domain): void => void gone.delete(d.domid);
    function domainGone(domid: number): void {
      if (gone.has(domid)) return;
      gone.add(domid);
      ring?.release(domid);
      engine.domainReleased(domid);
    }
    let domains: DomainRegistry | undefined;

    return {
      async start() {
        domains = ctx.resolve(DomainRegistry);
        ring = new XsRingTransport({
          domains,
          evtchn: ctx.resolve(EventChannels),
          connect: (conn) => engine.connect(conn),
          log: ctx.log.child('ring'),
          nextId,
          tasks: ctx.resolve(Dom0Tasks),
          outstandingQuota: () => engine.quotas.outstanding,
        });
        domains.events.on('created', onCreated);
        domains.events.on('dying', onDying);
        domains.events.on('destroyed', onDestroyed);
        await server.listen();
      },
      async dispose() {
        domains?.events.off('created', onCreated);
        domains?.events.off('dying', onDying);
        domains?.events.off('destroyed', onDestroyed);
        ring?.dispose();
        await server.close();
      },
    };
  },
});
