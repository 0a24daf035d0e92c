/**
 * `xeno console` through a real terminal: a host runs (`xeno up`, in this process), tmux runs the
 * console client in a pseudo-terminal, and the test types and reads the screen as a user would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../core/cli/main.js';
import { treeCatalog } from '../../plugins/catalog.js';
import { ROOT } from './machine.js';

const dir = mkdtempSync(join(tmpdir(), 'xeno-tty-'));
const runDir = join(dir, 'run');
const session = `xeno-tty-${process.pid}`;
const abort = new AbortController();
let up: Promise<number>;
let upOut = '';

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', session, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const screen = (): string => tmux('capture-pane', '-p', '-t', session);

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; screen:\n${safeScreen()}\nhost output:\n${upOut}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
function safeScreen(): string {
  try {
    return screen();
  } catch {
    return '(no tmux session)';
  }
}

async function xeno(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...argv, '--run-dir', runDir], { catalog: treeCatalog, stdout: (s) => (out += s), stderr: (s) => (err += s), cwd: dir });
  return { code, out, err };
}

beforeAll(async () => {
  writeFileSync(
    join(dir, 'host.yaml'),
    ['name: tty', 'seed: 3', 'cpus: 2', 'memory: 1GiB', 'dom0: { memory: 128MiB, vcpus: 1 }', 'plugins: [credit, xenstored, xenconsoled, toolstack, pvh, generic-kernel]', 'domains:', '  - { name: tty1, type: pvh, kernel: generic, memory: 32 }', ''].join('\n'),
  );
  up = runCli(['up', join(dir, 'host.yaml'), '--run-dir', runDir], { catalog: treeCatalog, stdout: (s) => (upOut += s), stderr: (s) => (upOut += s), cwd: dir, signal: abort.signal });
  await until('the host', () => upOut.includes('is up'));
  await until('the console socket', () => existsSync(join(runDir, 'console', '1.sock')));
  const bin = join(ROOT, 'node_modules', '.bin', 'tsx');
  const client = `${bin} ${join(ROOT, 'core', 'cli', 'bin.ts')} console tty1 --run-dir ${runDir}; echo "[detached: $?]"; sleep 60`;
  tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', client);
}, 60_000);

afterAll(async () => {
  try {
    tmux('kill-server');
  } catch {
    // already gone
  }
  abort.abort();
  await up;
  rmSync(dir, { recursive: true, force: true });
});

describe('xeno console in a terminal', () => {
  it('shows what the guest prints, sends what is typed, and detaches on Ctrl-]', async () => {
    // The client starts attached and silent, as xl console does; Enter gets a fresh prompt.
    await new Promise((r) => setTimeout(r, 1500));
    tmux('send-keys', '-t', session, 'Enter');
    await until('a prompt', () => /^# *$/m.test(screen()));
    tmux('send-keys', '-t', session, 'echo hello from tmux', 'Enter');
    await until('the echo', () => /^hello from tmux$/m.test(screen()));
    tmux('send-keys', '-t', session, 'help', 'Enter');
    await until('the help text', () => /uptime/.test(screen()) && /poweroff/.test(screen()));
    tmux('send-keys', '-t', session, 'C-]');
    await until('the client to detach', () => /\[detached: 0\]/.test(screen()));
  }, 60_000);

  it('keeps the host and the guest running when a console client is killed', async () => {
    tmux('respawn-pane', '-k', '-t', session, `${join(ROOT, 'node_modules', '.bin', 'tsx')} ${join(ROOT, 'core', 'cli', 'bin.ts')} console tty1 --run-dir ${runDir}`);
    await new Promise((r) => setTimeout(r, 1500));
    tmux('kill-server');
    const list = await xeno('list');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^tty1 +1 +32 +1 /m);
    expect((await xeno('shutdown', '-w', 'tty1')).code).toBe(0);
    expect((await xeno('list')).out).not.toContain('tty1');
  }, 60_000);

  it('serves the real xenstore clients on <run dir>/xenstored.sock while it runs', async () => {
    const client = (cmd: string, ...args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile(cmd, args, { env: { ...process.env, XENSTORED_PATH: join(runDir, 'xenstored.sock') }, timeout: 10_000 }, (e, out) => (e ? reject(e) : resolve(out))),
      );
    expect(await client('xenstore-ls', '/local/domain')).toMatch(/^ name = "Domain-0"$/m);
    await client('xenstore-write', '/local/domain/0/data/greeting', 'hello from xenstore-write');
    expect(await client('xenstore-read', '/local/domain/0/data/greeting')).toBe('hello from xenstore-write\n');
  }, 30_000);

  it('stops the host with `xeno shutdown --host`', async () => {
    expect((await xeno('shutdown', '--host')).code).toBe(0);
    expect(await up).toBe(0);
    expect(upOut).toContain('host tty stopped');
    expect(existsSync(join(runDir, 'control.sock'))).toBe(false);
  }, 30_000);
});
