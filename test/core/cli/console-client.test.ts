/** The `xeno console` client against a fake console socket: raw mode, both directions, Ctrl-] and hang-ups. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachConsole, type ConsoleDetachReason } from '../../../core/cli/console-client.js';

/** A stand-in for process.stdin that records its raw-mode changes. */
class FakeTty extends PassThrough {
  isRaw = false;
  readonly modes: boolean[] = [];
  constructor(readonly isTTY: boolean) {
    super();
  }
  setRawMode(mode: boolean): this {
    this.modes.push(mode);
    this.isRaw = mode;
    return this;
  }
}

let dir: string;
let server: Server;
let path: string;
let peers: Socket[];
let received: Buffer[];
let peerEnded: boolean;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xcli-'));
  path = join(dir, '1.sock');
  peers = [];
  received = [];
  peerEnded = false;
  server = createServer((s) => {
    peers.push(s);
    s.on('data', (b: Buffer) => received.push(b));
    s.on('end', () => (peerEnded = true));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
});

afterEach(async () => {
  for (const p of peers) p.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (done()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (b: Buffer) => chunks.push(b));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

describe('attachConsole', () => {
  it('puts a TTY in raw mode, joins it to the socket both ways, and on Ctrl-] sends what came before it, restores the terminal and resolves', async () => {
    const stdin = new FakeTty(true);
    const out = sink();
    const events: string[] = [];
    const session = attachConsole({ socketPath: path, stdin, stdout: out.stream, onDetach: (why) => events.push(`detach ${why} raw=${stdin.isRaw}`) });
    await until(() => peers.length === 1, 'the connection');
    await until(() => stdin.modes.length === 1, 'raw mode');
    expect(stdin.modes).toEqual([true]);
    peers[0]!.write('login: ');
    await until(() => out.text() === 'login: ', 'output on stdout');
    stdin.write('root\r');
    await until(() => Buffer.concat(received).toString() === 'root\r', 'input on the socket');
    stdin.write(Buffer.from([0x6c, 0x73, 0x1d, 0x71]));
    const why: ConsoleDetachReason = await session;
    expect(why).toBe('escape');
    expect(stdin.modes).toEqual([true, false]);
    expect(events).toEqual(['detach escape raw=false']);
    await until(() => peerEnded, 'the server to see the client go');
    expect(Buffer.concat(received).toString()).toBe('root\rls');
  });

  it('leaves a stdin that is not a TTY in its mode', async () => {
    const stdin = new FakeTty(false);
    const session = attachConsole({ socketPath: path, stdin, stdout: sink().stream });
    await until(() => peers.length === 1, 'the connection');
    stdin.write(Buffer.from([0x1d]));
    expect(await session).toBe('escape');
    expect(stdin.modes).toEqual([]);
    expect(received).toEqual([]);
  });

  it('resolves "closed" when the socket closes (the domain went), restoring the terminal; output sent before is on stdout', async () => {
    const stdin = new FakeTty(true);
    const out = sink();
    const session = attachConsole({ socketPath: path, stdin, stdout: out.stream });
    await until(() => peers.length === 1 && stdin.modes.length === 1, 'the connection');
    peers[0]!.end('last words\n');
    expect(await session).toBe('closed');
    expect(stdin.modes).toEqual([true, false]);
    expect(out.text()).toBe('last words\n');
    // Typing afterwards goes nowhere and does not throw.
    stdin.write('x');
  });

  it('resolves "eof" when stdin ends', async () => {
    const stdin = new FakeTty(false);
    const session = attachConsole({ socketPath: path, stdin, stdout: sink().stream });
    await until(() => peers.length === 1, 'the connection');
    stdin.end('bye');
    expect(await session).toBe('eof');
    await until(() => Buffer.concat(received).toString() === 'bye', 'the last input');
  });

  it('rejects naming the socket when nothing listens there, with the terminal untouched', async () => {
    const stdin = new FakeTty(true);
    const missing = join(dir, '9.sock');
    await expect(attachConsole({ socketPath: missing, stdin, stdout: sink().stream })).rejects.toThrow(`cannot connect to the console socket ${missing}: ENOENT`);
    expect(stdin.modes).toEqual([]);
  });
});
