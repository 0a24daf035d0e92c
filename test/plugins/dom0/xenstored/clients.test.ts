/** Real clients against our xenstored: Xen's test-xenstore and Debian's xenstore-utils, through XENSTORED_PATH. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStandalone, type Standalone } from '../../../../plugins/dom0/xenstored/daemon.js';
import { runCli } from '../../../../core/cli/main.js';
import { treeCatalog } from '../../../../plugins/catalog.js';

const TEST_XENSTORE = '/usr/lib/xen-4.17/bin/test-xenstore';
const UTILS = ['xenstore-write', 'xenstore-read', 'xenstore-ls', 'xenstore-list', 'xenstore-rm', 'xenstore-chmod', 'xenstore-exists', 'xenstore-watch'];
const INSTALL = 'install them with: sudo apt-get install --no-install-recommends xen-utils-4.17 xenstore-utils (.ci/run does)';

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
}

/** Fails (never skips) with how to install what is missing. */
function requireClients(): void {
  const missing = [...(existsSync(TEST_XENSTORE) ? [] : [TEST_XENSTORE]), ...UTILS.filter((u) => !onPath(u))];
  if (missing.length > 0) throw new Error(`real xenstore clients missing: ${missing.join(', ')}; ${INSTALL}`);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let dir: string;
let daemon: Standalone;
let socket: string;

/** Runs a client with XENSTORED_PATH set (asynchronously: the daemon lives in this process). */
function client(cmd: string, args: string[] = [], timeoutMs = 10_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, XENSTORED_PATH: socket }, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  requireClients();
  dir = mkdtempSync(join(tmpdir(), 'xs-clients-'));
  socket = join(dir, 'xenstored.sock');
  daemon = await startStandalone({ socket });
});
afterAll(async () => {
  await daemon?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('test-xenstore (Xen 4.17)', () => {
  it('passes all 12 of its tests', async () => {
    const r = await client(TEST_XENSTORE, [], 60_000);
    const lines = r.stdout.split('\n').filter((l) => /^\S.*:/.test(l));
    expect(r.stdout).not.toMatch(/failed/);
    expect(lines).toHaveLength(12);
    expect(r.code).toBe(0);
  });

  it('passes them again with -i 20 (state is cleaned between iterations)', async () => {
    const r = await client(TEST_XENSTORE, ['-i', '20'], 60_000);
    expect(r.stdout).not.toMatch(/failed/);
    expect(r.stdout.split('\n').filter((l) => l.includes('avg:'))).toHaveLength(12);
  });
});

describe('xenstore-utils', () => {
  it('write (several keys, in a transaction), read, ls, list', async () => {
    expect(await client('xenstore-write', ['/u/a', '1', '/u/b', 'two words'])).toMatchObject({ code: 0, stdout: '' });
    expect(await client('xenstore-read', ['/u/a', '/u/b'])).toMatchObject({ code: 0, stdout: '1\ntwo words\n' });
    expect(await client('xenstore-ls', ['/u'])).toMatchObject({ code: 0, stdout: 'a = "1"\nb = "two words"\n' });
    expect(await client('xenstore-list', ['/u'])).toMatchObject({ code: 0, stdout: 'a\nb\n' });
  });

  it('read of a missing node fails with exit 1 and the C message', async () => {
    const r = await client('xenstore-read', ['/u/none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("couldn't read path /u/none");
  });

  it('exists answers by exit code', async () => {
    await client('xenstore-write', ['/e/x', 'v']);
    expect((await client('xenstore-exists', ['/e/x'])).code).toBe(0);
    expect((await client('xenstore-exists', ['/e/nope'])).code).toBe(1);
  });

  it('chmod sets permissions that ls -p shows', async () => {
    await client('xenstore-write', ['/p/a', '1']);
    expect((await client('xenstore-chmod', ['/p/a', 'n0', 'r1'])).code).toBe(0);
    const r = await client('xenstore-ls', ['-p', '/p']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^a = "1" .*\(n0,r1\)\n$/);
  });

  it('rm removes a subtree; removing a missing child of an existing node succeeds', async () => {
    await client('xenstore-write', ['/r/a/b', '1', '/r/c', '2']);
    expect((await client('xenstore-rm', ['/r/a'])).code).toBe(0);
    expect((await client('xenstore-exists', ['/r/a/b'])).code).toBe(1);
    expect((await client('xenstore-list', ['/r'])).stdout).toBe('c\n');
    expect((await client('xenstore-rm', ['/r/none'])).code).toBe(0);
  });

  it('watch -n 2 prints the initial event, then the write that fires it', async () => {
    await client('xenstore-write', ['/w', '']);
    const watching = client('xenstore-watch', ['-n', '2', '/w']);
    // The first event arrives as soon as the watch is set; then a write fires the second.
    await new Promise((r) => setTimeout(r, 300));
    await client('xenstore-write', ['/w/k', 'v']);
    const r = await watching;
    expect(r).toMatchObject({ code: 0, stdout: '/w\n/w/k\n' });
  });
});

describe('xeno xenstored (the CLI entry)', () => {
  it('is a plugin command of runCli: it serves until its signal aborts, then returns 0', async () => {
    const path = join(dir, 'inproc.sock');
    const controller = new AbortController();
    let out = '';
    const done = runCli(['xenstored', '--socket', path], { catalog: treeCatalog, stdout: (t) => (out += t), stderr: () => {}, signal: controller.signal });
    for (let i = 0; i < 100 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 20));
    const saved = socket;
    socket = path;
    try {
      expect((await client('xenstore-write', ['/inproc', 'yes'])).code).toBe(0);
      expect((await client('xenstore-read', ['/inproc'])).stdout).toBe('yes\n');
    } finally {
      socket = saved;
    }
    controller.abort();
    expect(await done).toBe(0);
    expect(out).toContain('xenstored: stopped');
    expect(existsSync(path)).toBe(false);
  });


  it('serves clients on --socket and stops on SIGTERM, removing the socket', async () => {
    const path = join(dir, 'cli.sock');
    const tsx = join(process.cwd(), 'node_modules', '.bin', 'tsx');
    const child = spawn(tsx, ['core/cli/bin.ts', 'xenstored', '--socket', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 200 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain(`xenstored: listening on ${path}`);
    const saved = socket;
    socket = path;
    try {
      expect((await client('xenstore-write', ['/cli', 'ok'])).code).toBe(0);
      expect((await client('xenstore-read', ['/cli'])).stdout).toBe('ok\n');
    } finally {
      socket = saved;
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(path)).toBe(false);
  });
});
