/**
 * The host's control socket: the `xeno` CLI's requests (xl's commands) enter the simulation as external
 * events at the current virtual time, so they are ordered with everything else the host does; toolstack
 * operations reply when their Dom0 job settles.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Dom0Job } from '../../api/dom0.js';
import { XenoError } from '../../api/errors.js';
import type { Logger } from '../../api/log.js';
import type { Host } from '../../host/host.js';
import { ControlFailure, MAX_REQUEST_BYTES, type ControlReply, type ControlRequest } from './protocol.js';

/** One method: returns a value, or a job whose result (or error) is the reply. */
export type ControlMethod = (params: Record<string, unknown>, host: Host) => unknown;

export class ControlServer {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();

  constructor(
    private readonly host: Host,
    private readonly path: string,
    private readonly methods: Readonly<Record<string, ControlMethod>>,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    rmSync(this.path, { force: true });
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(this.path, () => {
        server.off('error', fail);
        done();
      });
    });
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((done) => server.close(() => done()));
    rmSync(this.path, { force: true });
  }

  private accept(socket: Socket): void {
    this.clients.add(socket);
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST_BYTES && !buffer.includes('\n')) {
        this.log.warn(`control: a client sent more than ${MAX_REQUEST_BYTES} bytes without a newline; closing it`);
        socket.destroy();
        return;
      }
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        this.receive(socket, line);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.clients.delete(socket));
  }

  private receive(socket: Socket, line: string): void {
    let request: ControlRequest;
    try {
      request = JSON.parse(line) as ControlRequest;
      if (typeof request !== 'object' || request === null || typeof request.id !== 'number' || typeof request.method !== 'string') throw new Error('not a request');
    } catch {
      this.log.warn('control: a client sent a line that is not a request; closing it');
      socket.destroy();
      return;
    }
    const reply = (r: ControlReply): void => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(r)}\n`);
    };
    const method = this.methods[request.method];
    if (method === undefined) {
      reply({ id: request.id, error: { code: 'ENOSYS', message: `unknown control method "${request.method}"` } });
      return;
    }
    this.host.engine.external(() => {
      try {
        const value = method(request.params ?? {}, this.host);
        if (isJob(value)) {
          value.onSettled((job) => reply(job.error ? { id: request.id, error: describe(job.error) } : { id: request.id, result: job.result ?? null }));
        } else reply({ id: request.id, result: value ?? null });
      } catch (error) {
        reply({ id: request.id, error: describe(error) });
      }
    });
  }
}

function isJob(value: unknown): value is Dom0Job<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Dom0Job<unknown>).onSettled === 'function';
}

function describe(error: unknown): { code: string; message: string } {
  if (error instanceof ControlFailure) return { code: error.code, message: error.message };
  if (error instanceof XenoError) return { code: error.code, message: error.message };
  const e = error as Error & { errno?: string };
  return { code: 'internal', message: e.message ?? String(error) };
}
