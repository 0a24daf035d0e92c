/** One domain's console socket: raw bytes both ways, like the pty C xenconsoled gives each domain. */
import { createServer, type Server, type Socket } from 'node:net';
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../../core/api/index.js';

/** What {@link ConsoleSocket} is made from. */
export interface ConsoleSocketOptions {
  /** Path of the socket file (its folder is created; a socket file left there by a previous run is replaced). */
  path: string;
  /** Bytes a client typed. Called from Node's I/O, outside the simulation: the owner moves them in. */
  onInput(bytes: Uint8Array): void;
  /** Bytes queued for one client beyond which further output to it is discarded. */
  clientBufferLimit: number;
  log: Logger;
}

/** Wall-clock milliseconds a hung-up client has to take its last output. */
const CLOSE_GRACE_MS = 1000;

interface Client {
  readonly socket: Socket;
  readonly id: number;
  discarding: boolean;
}

/**
 * A `net.Server` on a Unix socket. Clients get the guest's output from the moment they connect (no
 * replay) and what they send is console input. A client that vanishes or errors loses only itself.
 */
export class ConsoleSocket {
  private server: Server | undefined;
  private readonly clients = new Set<Client>();
  private ids = 0;
  private closed = false;

  constructor(private readonly options: ConsoleSocketOptions) {}

  get path(): string {
    return this.options.path;
  }

  /** Clients connected now. */
  get connections(): number {
    return this.clients.size;
  }

  /** Starts listening (replacing a stale socket file). */
  async listen(): Promise<void> {
    const { path, log } = this.options;
    mkdirSync(dirname(path), { recursive: true });
    try {
      if (lstatSync(path).isSocket()) {
        unlinkSync(path);
        log.info(`replaced the stale socket ${path}`);
      }
    } catch {
      // No file there.
    }
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => log.error(`socket ${path}: ${error.message}`));
    if (this.closed) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return;
    }
    this.server = server;
  }

  /** Sends guest output to every client. */
  send(bytes: Uint8Array): void {
    for (const c of this.clients) {
      if (c.socket.writableLength + bytes.length > this.options.clientBufferLimit) {
        if (!c.discarding) this.options.log.warn(`${this.path}: client ${c.id} is not reading; discarding its output`);
        c.discarding = true;
        continue;
      }
      c.discarding = false;
      c.socket.write(bytes);
    }
  }

  /** Ends every client, stops listening and removes the socket file. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.clients]) {
      this.clients.delete(c);
      // Flush what the client has not read yet, then hang up: the client sees the console end. A
      // client that never reads is cut off after a grace period (socket I/O, outside the simulation).
      c.socket.end(() => c.socket.destroy());
      setTimeout(() => c.socket.destroy(), CLOSE_GRACE_MS).unref();
    }
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.options.path);
    } catch {
      // Already gone (server.close unlinks it).
    }
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const client: Client = { socket, id: ++this.ids, discarding: false };
    this.clients.add(client);
    socket.on('data', (chunk: Buffer) => {
      if (this.clients.has(client)) this.options.onInput(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength).slice());
    });
    socket.on('error', (error) => {
      this.options.log.debug(`${this.path}: client ${client.id}: ${error.message}`);
      this.drop(client);
    });
    socket.on('close', () => this.drop(client));
  }

  private drop(client: Client): void {
    if (!this.clients.delete(client)) return;
    client.socket.destroy();
  }
}
