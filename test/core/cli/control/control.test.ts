import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlServer } from '../../../../core/cli/control/server.js';
import { CONTROL_METHODS } from '../../../../core/cli/control/methods.js';
import { ControlClient } from '../../../../core/cli/control/client.js';
import { runCli } from '../../../../core/cli/main.js';
import { treeCatalog } from '../../../../plugins/catalog.js';
import { bootToolstackHost, type ToolstackHost } from '../../../plugins/dom0/toolstack/harness.js';

let t: ToolstackHost;
let server: ControlServer;
let paced: { stop(): void };
let stopRequests = 0;

beforeAll(async () => {
  t = await bootToolstackHost();
  server = new ControlServer(t.host, join(t.runDir, 'control.sock'), { ...CONTROL_METHODS, 'host-shutdown': () => (stopRequests++, true) }, t.host.log);
  await server.listen();
  // 20× real time: builds and shutdowns take milliseconds of virtual time.
  paced = t.host.runPaced({ speed: 20 });
});
afterAll(async () => {
  paced.stop();
  await server.close();
  await t.cleanup();
});

async function xeno(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...argv, '--run-dir', t.runDir], { catalog: treeCatalog, stdout: (s) => (out += s), stderr: (s) => (err += s), cwd: t.runDir });
  return { code, out, err };
}

describe('the control socket and the xl commands', () => {
  it('creates, lists, renames and destroys a domain the way xl does', async () => {
    writeFileSync(join(t.runDir, 'web.cfg'), 'name = "web"\ntype = "pvh"\nkernel = "idle"\nmemory = 64\nvcpus = 2\n');
    const created = await xeno('create', 'web.cfg');
    expect(created).toMatchObject({ code: 0 });
    expect(created.err).toContain('Parsing config from web.cfg');
    const list = await xeno('list');
    expect(list.code).toBe(0);
    const lines = list.out.trimEnd().split('\n');
    expect(lines[0]).toBe('Name                                        ID   Mem VCPUs\tState\tTime(s)');
    expect(lines[1]).toMatch(/^Domain-0 {32} {5}0 {4}64 {5}1 {5}[r-][b-]----/);
    expect(lines[2]).toMatch(/^web {38}\s+1 {4}64 {5}1 {5}/);
    expect((await xeno('domid', 'web')).out).toBe('1\n');
    expect((await xeno('domname', '1')).out).toBe('web\n');
    expect((await xeno('rename', 'web', 'www')).code).toBe(0);
    expect((await xeno('list', 'www')).out).toContain('www');
    expect((await xeno('mem-set', 'www', '32m')).code).toBe(0);
    expect((await xeno('vcpu-list', 'www')).out).toMatch(/^Name +ID +VCPU +CPU +State +Time\(s\) +Affinity \(Hard \/ Soft\)\nwww +1 +0 /);
    const dumped = await xeno('dump-core', 'www', 'www.core');
    expect(dumped.code).toBe(0);
    expect(readFileSync(join(t.runDir, 'www.core')).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect((await xeno('dump-core', 'nosuch', 'x.core')).code).not.toBe(0);
    expect((await xeno('destroy', 'www')).code).toBe(0);
    expect((await xeno('list')).out.trimEnd().split('\n')).toHaveLength(2);
  });

  it('reports errors as xl does and keeps serving', async () => {
    writeFileSync(join(t.runDir, 'bad.cfg'), 'name = "bad"\ntype = "pvh"\nkernel = "/no/such/kernel"\n');
    const bad = await xeno('create', 'bad.cfg');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/error: .*bad\.cfg.*kernel.*not found/);
    const unknown = await xeno('destroy', 'nosuch');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('nosuch is an invalid domain identifier');
    expect((await xeno('list', 'nosuch')).err).toContain('nosuch is an invalid domain identifier');
    expect((await xeno('list')).code).toBe(0);
  });

  it('closes a client that sends garbage, and only that client', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const s = createConnection(join(t.runDir, 'control.sock'));
      s.on('connect', () => s.write('this is not json\n'));
      s.on('close', () => resolve(true));
      s.on('error', () => resolve(true));
    });
    expect(closed).toBe(true);
    const client = await ControlClient.connect(join(t.runDir, 'control.sock'));
    await expect(client.call('no-such-method')).rejects.toThrow(/unknown control method/);
    expect(await client.call('hello')).toMatchObject({ host: 'ts-test' });
    client.close();
  });

  it('passes `shutdown --host` to the host and finds no host without a run dir', async () => {
    expect((await xeno('shutdown', '--host')).out).toBe('host shutting down\n');
    expect(stopRequests).toBe(1);
    let err = '';
    const code = await runCli(['list'], { catalog: treeCatalog, stderr: (s) => (err += s), cwd: '/' });
    expect(code).toBe(1);
    expect(err).toContain('no running host found');
  });

  it('prints xentop batch frames and xl uptime', async () => {
    const top = await xeno('top', '-b', '-i', '2', '-d', '0.05');
    expect(top.code).toBe(0);
    expect(top.out.match(/^ +NAME +STATE +CPU\(sec\) +CPU\(%\)/gm)).toHaveLength(2);
    expect(top.out).toMatch(/Domain-0/);
    expect((await xeno('uptime')).out).toMatch(/^Name +ID Uptime\nDomain-0 +0 +\d+:\d\d:\d\d\n/);
  });
});
