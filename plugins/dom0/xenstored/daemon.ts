/** xenstored outside a simulated host: the engine on a Unix socket only, as `xeno xenstored` runs it. */
import { resolve } from 'node:path';
import { GuestError, createLogger, formatLogRecord, type Logger, type PluginCommand } from '../../../core/api/index.js';
import type { XsDomainHooks } from './connection.js';
import { XenstoreEngine } from './engine.js';
import type { XsQuotas } from './quota.js';
import { XsSocketServer } from './socket.js';

/** What the plugin and the standalone daemon make the engine from. */
export interface XsEngineOptions {
  /** The guest-ring transport (refusing in the standalone daemon, which has no guests). */
  hooks: XsDomainHooks;
  log?: Logger;
  /** Log every request at debug level. */
  accessLog?: boolean;
  quotas?: Partial<XsQuotas>;
}

/** Makes the protocol engine, its log lines and access log going to `options.log`. */
export function createEngine(options: XsEngineOptions): XenstoreEngine {
  const log = options.log;
  return new XenstoreEngine({
    hooks: options.hooks,
    ...(options.quotas ? { quotas: options.quotas } : {}),
    ...(log ? { log: (line: string) => log.info(line) } : {}),
    ...(log && options.accessLog ? { accessLog: (e) => log.debug(`${e.label}: ${e.type} ${e.path}`) } : {}),
  });
}

/** With no simulated host there are no guests: INTRODUCE is refused, only Dom0 exists. */
const NO_GUESTS: XsDomainHooks = {
  introduce(domid) {
    throw new GuestError('EINVAL', `xenstored: no guest memory to map for dom${domid} (standalone daemon)`);
  },
  release() {},
  domainExists: (domid) => domid === 0,
};

/** What {@link startStandalone} needs. */
export interface StandaloneOptions {
  /** Socket path (absolute, or relative to the process's folder). */
  socket: string;
  accessLog?: boolean;
  log?: Logger;
}

/** A running standalone daemon. */
export interface Standalone {
  readonly engine: XenstoreEngine;
  readonly server: XsSocketServer;
  stop(): Promise<void>;
}

/** Starts the engine on a Unix socket with no guests; resolves once it listens. */
export async function startStandalone(options: StandaloneOptions): Promise<Standalone> {
  const engine = createEngine({ hooks: NO_GUESTS, ...(options.log ? { log: options.log } : {}), accessLog: options.accessLog ?? false });
  const server = new XsSocketServer({ path: resolve(options.socket), engine, ...(options.log ? { log: options.log.child('socket') } : {}) });
  await server.listen();
  return { engine, server, stop: () => server.close() };
}

/** `xeno xenstored`: runs the daemon alone until SIGINT/SIGTERM. */
export const xenstoredCommand: PluginCommand = {
  name: 'xenstored',
  description: 'run the xenstore daemon alone on a Unix socket (clients: XENSTORED_PATH=<socket> xenstore-ls)',
  options: [
    { flags: '--socket <path>', description: 'Unix socket to listen on', defaultValue: './run/xenstored.sock' },
    { flags: '--access-log', description: 'log every request and reply to standard error' },
  ],
  async run(args, io) {
    const socket = resolve(io.cwd, typeof args.socket === 'string' ? args.socket : './run/xenstored.sock');
    const accessLog = args.accessLog === true;
    // A real daemon has no virtual clock: records carry time 0.
    const log = createLogger('xenstored', (r) => io.stderr(`${formatLogRecord(r)}\n`), () => 0, accessLog ? 'debug' : 'warn');
    const daemon = await startStandalone({ socket, accessLog, log });
    io.stdout(`xenstored: listening on ${socket}\n`);
    if (!io.signal.aborted) await new Promise<void>((done) => io.signal.addEventListener('abort', () => done(), { once: true }));
    await daemon.stop();
    io.stdout('xenstored: stopped\n');
    return 0;
  },
};
