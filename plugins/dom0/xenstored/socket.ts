/** xenstored's Unix-socket transport: every client of the socket is a Dom0 peer of the protocol engine. */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../../core/api/index.js';
import type { XsConnection, XsEngineApi, XsSession } from './connection.js';
import { FrameGuard } from './framing.js';

/** What {@link XsSocketServer} is made from. */
export interface XsSocketServerOptions {
  /** Path of the socket file (its folder is created; a stale socket file there is replaced). */
  path: string;
  /** The protocol engine the clients talk to. */
  engine: XsEngineApi;
  log?: Logger;
  /** Connection ids, shared with the other transports of the daemon (default: 1, 2, ...). */
  nextId?: () => number;
  /**
   * Inside a simulated host, `engine.external`: what clients send enters the simulation as an input at
   * the current virtual time (and wakes a paced host). Absent (the standalone daemon): handled at once.
   */
  external?: (input: () => void) => void;
}

interface Client {
  readonly conn: XsConnection;
  readonly socket: Socket;
  session: XsSession | undefined;
  readonly guard: FrameGuard;
  gone: boolean;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => SILENT };

/** True when something accepts connections on `path`. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * A `net.Server` on a Unix socket. Each client acts as Dom0 (domid 0); its bytes go to an engine
 * session and the engine's replies come back. A client that vanishes, sends an oversized payload, or
 * makes the engine close it loses only its own connection. The socket file is removed on {@link close}.
 */
export class XsSocketServer {
  private readonly log: Logger;
  private readonly clients = new Set<Client>();
  private server: Server | undefined;
  private counter = 0;
  private readonly nextId: () => number;

  constructor(private readonly options: XsSocketServerOptions) {
    this.log = options.log ?? SILENT;
    this.nextId = options.nextId ?? (() => ++this.counter);
  }

  /** The socket path. */
  get path(): string {
    return this.options.path;
  }

  /** Clients connected now. */
  get connections(): number {
    return this.clients.size;
  }

  /** Starts listening. Replaces a stale socket file; refuses (EADDRINUSE) when a live daemon owns the path. */
  async listen(): Promise<void> {
    const { path } = this.options;
    mkdirSync(dirname(path), { recursive: true });
    let exists = false;
    try {
      exists = lstatSync(path).isSocket();
    } catch {
      exists = false;
    }
    if (exists) {
      if (await isLive(path)) throw Object.assign(new Error(`xenstored: ${path} is in use by a running daemon`), { code: 'EADDRINUSE' });
      unlinkSync(path);
      this.log.info(`replaced the stale socket ${path}`);
    }
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.log.error(`socket ${path}: ${error.message}`));
    this.server = server;
    this.log.info(`listening on ${path}`);
  }

  /** Ends every client, stops listening and removes the socket file. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of [...this.clients]) this.drop(c, undefined);
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.options.path);
    } catch {
      // net.Server.close already unlinked it.
    }
  }

  private accept(socket: Socket): void {
    const id = this.nextId();
    let corked = false;
    const client: Client = {
      socket,
      session: undefined,
      guard: new FrameGuard(),
      gone: false,
      conn: {
        id,
        domid: 0,
        label: `socket ${id}`,
        write: (bytes) => {
          if (client.gone || socket.destroyed) return;
          // Replies and the events they trigger leave in one syscall.
          if (!corked) {
            corked = true;
            socket.cork();
            process.nextTick(() => {
              corked = false;
              socket.uncork();
            });
          }
          socket.write(Buffer.from(bytes));
        },
        close: (reason) => this.drop(client, reason),
      },
    };
    this.clients.add(client);
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.receive(client, data));
    socket.on('error', (error) => this.log.debug(`${client.conn.label}: ${error.message}`));
    socket.on('close', () => this.drop(client, undefined));
    try {
      client.session = this.options.engine.connect(client.conn);
    } catch (error) {
      this.drop(client, `the engine refused it: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private receive(client: Client, data: Buffer): void {
    if (client.gone) return;
    const external = this.options.external;
    if (external === undefined) this.handle(client, data);
    else external(() => this.handle(client, data));
  }

  private handle(client: Client, data: Buffer): void {
    if (client.gone) return;
    const bad = client.guard.check(data);
    if (bad !== undefined) return this.drop(client, bad);
    try {
      client.session?.receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } catch (error) {
      this.drop(client, `engine error: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Tears a client down once: tells the engine, destroys the socket. `reason` is set for a violation. */
  private drop(client: Client, reason: string | undefined): void {
    if (client.gone) return;
    client.gone = true;
    this.clients.delete(client);
    if (reason !== undefined) this.log.warn(`${client.conn.label}: closed: ${reason}`);
    try {
      client.session?.closed();
    } catch (error) {
      this.log.error(`${client.conn.label}: engine failed to close the session: ${error instanceof Error ? error.message : String(error)}`);
    }
    client.socket.destroy();
  }
}
