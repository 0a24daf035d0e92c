/** The xenstored plugin's manifest: the store engine on a Unix socket and on every introduced guest's ring. */
import { DomainRegistry, EventChannels, GuestError, RunDir, definePlugin, token, type Domain } from '../../../core/api/index.js';
import type { DomId } from '../../../core/public/index.js';
import type { XsConnection, XsDomainHooks, XsSession } from './connection.js';
import { createEngine, xenstoredCommand } from './daemon.js';
import { XenstoredOptions } from './options.js';
import { XsRingTransport } from './ring.js';
import { XsSocketServer } from './socket.js';

export type { XsConnection, XsSession, XsDomainHooks } from './connection.js';
export { XenstoredOptions } from './options.js';

/** What the toolstack (and other Dom0 services) see of the running xenstored. */
export interface Xenstore {
  /** Where socket clients connect (give it to them as XENSTORED_PATH). */
  readonly socketPath: string;
  /** An in-process Dom0 client: the engine's session for `conn`, as if it came through the socket. */
  connect(conn: XsConnection): XsSession;
  /** Domains whose ring is attached, sorted. */
  attachedDomains(): number[];
}
/** Token of {@link Xenstore}: `Symbol.for('xenoserver:Xenstore')`. */
export const Xenstore = token<Xenstore>('Xenstore');

/** The `xenstored` plugin. */
export default definePlugin({
  name: 'xenstored',
  version: '0.1.0',
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
    const socketPath = socket ?? `${ctx.resolve(RunDir)}/xenstored.sock`;
    const server = new XsSocketServer({ path: socketPath, engine, log: ctx.log.child('socket'), nextId });
    ctx.provide(Xenstore, { socketPath, connect: (conn) => engine.connect(conn), attachedDomains: () => ring?.attached() ?? [] });

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
        ring = new XsRingTransport({ domains, evtchn: ctx.resolve(EventChannels), connect: (conn) => engine.connect(conn), log: ctx.log.child('ring'), nextId });
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
