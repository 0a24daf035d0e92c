/** The CLI's end of the control socket: one request at a time per call, replies matched by id. */
import { createConnection, type Socket } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { XenoError } from '../../api/errors.js';
import type { ControlReply } from './protocol.js';

/** A failed request: the server's error code and message. */
export class ControlCallError extends XenoError {}

export class ControlClient {
  private nextId = 1;
  private buffer = '';
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.failAll(new XenoError('usage', 'the host closed the control connection')));
    socket.on('error', (e) => this.failAll(e));
  }

  /** Connects to a host's control socket. */
  static connect(path: string): Promise<ControlClient> {
    return new Promise((done, fail) => {
      const socket = createConnection(path);
      socket.once('connect', () => done(new ControlClient(socket)));
      socket.once('error', (e: NodeJS.ErrnoException) => fail(new XenoError('usage', `cannot reach the host at ${path}: ${e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no host is running there' : e.message}`)));
    });
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((done, fail) => {
      this.waiting.set(id, { resolve: done as (v: unknown) => void, reject: fail });
      this.socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  close(): void {
    this.socket.end();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const reply = JSON.parse(line) as ControlReply;
      const w = this.waiting.get(reply.id);
      if (!w) continue;
      this.waiting.delete(reply.id);
      if ('error' in reply) w.reject(new ControlCallError(reply.error.code, reply.error.message));
      else w.resolve(reply.result);
    }
  }

  private failAll(error: Error): void {
    for (const w of this.waiting.values()) w.reject(error);
    this.waiting.clear();
  }
}

/**
 * The run directory of the host a command talks to: `--run-dir`, else $XENO_RUN_DIR, else the only
 * folder under `./run/` holding a control socket. Undefined when none is found.
 */
export function findRunDir(given: string | undefined, cwd: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (given !== undefined) return resolve(cwd, given);
  if (env.XENO_RUN_DIR) return resolve(cwd, env.XENO_RUN_DIR);
  const root = join(cwd, 'run');
  if (!existsSync(root)) return undefined;
  const hosts = readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory() && existsSync(join(root, e.name, 'control.sock')));
  if (hosts.length > 1) throw new XenoError('usage', `several hosts run under ${root} (${hosts.map((h) => h.name).join(', ')}): choose one with --run-dir`);
  return hosts.length === 1 ? join(root, hosts[0]!.name) : undefined;
}

export const controlSocketOf = (runDir: string): string => join(runDir, 'control.sock');
