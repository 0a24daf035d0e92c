/** The Unix-socket transport against a fake engine: framing across splits, isolation of bad clients, the socket file's life. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createConnection, type Socket } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XsSocketServer } from '../../../../plugins/dom0/xenstored/socket.js';
import type { XsEngineApi } from '../../../../plugins/dom0/xenstored/connection.js';
import { encodeMessage } from '../../../../plugins/dom0/xenstored/wire.js';
import { EchoEngine } from './socket-echo-engine.js';

let dir: string;
let server: XsSocketServer | undefined;
const sockets: Socket[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xs-socket-'));
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path, () => resolve(s));
    s.once('error', reject);
    sockets.push(s);
  });
}

/** Collects `n` bytes from the socket. */
function readBytes(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const on = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (got.length >= n) {
        s.off('data', on);
        resolve(got);
      }
    };
    s.on('data', on);
  });
}

const ended = (s: Socket): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

async function start(engine: XsEngineApi = new EchoEngine(), path = join(dir, 'run', 'xenstored.sock')): Promise<XsSocketServer> {
  server = new XsSocketServer({ path, engine });
  await server.listen();
  return server;
}

describe('XsSocketServer', () => {
  it('creates the folder, serves each client as Dom0 and passes bytes split anyhow', async () => {
    const engine = new EchoEngine();
    const srv = await start(engine);
    expect(existsSync(srv.path)).toBe(true);
    const c = await connect(srv.path);
    const msg = encodeMessage(2, 7, 0, '/local/domain\0');
    const reply = readBytes(c, msg.length * 2);
    c.write(msg.subarray(0, 5));
    await new Promise((r) => setTimeout(r, 10));
    c.write(Buffer.concat([msg.subarray(5), msg]));
    expect(new Uint8Array(await reply)).toEqual(new Uint8Array([...msg, ...msg]));
    expect(engine.conns).toHaveLength(1);
    expect(engine.conns[0]).toMatchObject({ domid: 0, label: expect.stringMatching(/^socket \d+$/) });
  });

  it('a client that vanishes ends only its session', async () => {
    const engine = new EchoEngine();
    const srv = await start(engine);
    const a = await connect(srv.path);
    const b = await connect(srv.path);
    a.destroy();
    await new Promise((r) => setTimeout(r, 20));
    expect(engine.closed).toBe(1);
    expect(srv.connections).toBe(1);
    const msg = encodeMessage(2, 1, 0, 'x\0');
    const reply = readBytes(b, msg.length);
    b.write(msg);
    expect((await reply).length).toBe(msg.length);
  });

  it('cuts off a client announcing a payload over 4096 bytes, or one the engine closes or fails on; others go on', async () => {
    const engine = new EchoEngine();
    const srv = await start(engine);
    const good = await connect(srv.path);
    for (const bad of [encodeMessage(11, 1, 0, new Uint8Array(0)).map((v, i) => (i === 13 ? 0x20 : v)), encodeMessage(999, 1, 0, ''), encodeMessage(998, 1, 0, '')]) {
      const c = await connect(srv.path);
      c.write(bad);
      await ended(c);
    }
    expect(engine.closed).toBe(3);
    const msg = encodeMessage(2, 1, 0, new Uint8Array(4096));
    const reply = readBytes(good, msg.length);
    good.write(msg);
    expect((await reply).length).toBe(msg.length);
  });

  it('replaces a stale socket file, refuses a path a live daemon owns, and removes the file on close', async () => {
    const path = join(dir, 'stale.sock');
    // A socket bound by a process that is gone: the file stays, nobody listens.
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`]);
    expect(existsSync(path)).toBe(true);
    const srv = await start(new EchoEngine(), path);
    const c = await connect(path);
    const msg = encodeMessage(2, 1, 0, '');
    const reply = readBytes(c, msg.length);
    c.write(msg);
    expect((await reply).length).toBe(16);
    const second = new XsSocketServer({ path, engine: new EchoEngine() });
    await expect(second.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await srv.close();
    server = undefined;
    expect(existsSync(path)).toBe(false);
  });

  it('refuses to start on a path that is a regular file', async () => {
    const path = join(dir, 'file');
    writeFileSync(path, 'x');
    const srv = new XsSocketServer({ path, engine: new EchoEngine() });
    await expect(srv.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
