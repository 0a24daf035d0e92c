/** xenconsoled on a real host: the test plays the guests (their console rings and ports) and the toolstack (xenstore). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Dom0Tasks } from '../../../../core/api/index.js';
import { XenconsInterface, domId, evtchnPort } from '../../../../core/public/index.js';
import { ConsoleGuest, GFN, SocketClient, rig, type Rig } from './helpers.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('discovery through xenstore', () => {
  it('attaches on @introduceDomain once console/ring-ref and console/port exist: binds Dom0 to the guest port, writes console/tty, listens', async () => {
    r = await rig(2);
    const dom0Ports = r.evtchn.portsInUse(domId(0));
    const g = r.introduce(1);
    expect(r.daemon.attached()).toEqual([1]);
    const path = join(r.dir, '1.sock');
    expect(r.daemon.socketPath(1)).toBe(path);
    expect(r.daemon.socketPath(2)).toBeUndefined();
    expect(r.xs.read('/local/domain/1/console/tty')).toBe(path);
    expect(r.evtchn.status(domId(1), evtchnPort(g.port))).toMatchObject({ status: 'interdomain', remoteDom: 0, remotePort: r.daemon.localPort(1) });
    expect(r.evtchn.portsInUse(domId(0))).toBe(dom0Ports + 1);
    await r.daemon.whenListening(1);
    expect(existsSync(path)).toBe(true);
  });

  it('waits for a domain whose console keys are not written yet, and attaches when they appear', async () => {
    r = await rig(1);
    r.xs.introduce(1);
    expect(r.daemon.attached()).toEqual([]);
    expect(r.daemon.tracked()).toEqual([1]);
    const g = new ConsoleGuest(r.host, 1);
    r.xs.write('/local/domain/1/console/ring-ref', String(GFN));
    expect(r.daemon.attached()).toEqual([]);
    r.xs.write('/local/domain/1/console/port', String(g.port));
    expect(r.daemon.attached()).toEqual([1]);
  });

  it('does not attach Dom0, domains absent from the registry, or keys that are not decimal numbers', async () => {
    r = await rig(2);
    r.xs.writeAll({ '/local/domain/0/console/ring-ref': '5', '/local/domain/0/console/port': '1', '/local/domain/7/console/ring-ref': '5', '/local/domain/7/console/port': '1' });
    r.xs.writeAll({ '/local/domain/2/console/ring-ref': '0x300', '/local/domain/2/console/port': '3' });
    r.xs.introduce(2);
    expect(r.daemon.attached()).toEqual([]);
    expect(r.daemon.tracked()).toEqual([2]);
  });

  it('finds domains that were introduced before it started (the watch fires at registration)', async () => {
    r = await rig(1);
    await r.daemon.dispose();
    const g = r.introduce(1);
    expect(r.daemon.attached()).toEqual([]);
    r.daemon.start();
    expect(r.daemon.attached()).toEqual([1]);
    g.write('early\n');
    r.run();
    expect(r.daemon.log(1)).toBe('early\n');
  });
});

describe('output', () => {
  it('is read as Dom0 work: nothing moves until Dom0 runs; then the log and listeners have it, out_cons = out_prod, the guest is notified', async () => {
    r = await rig(1);
    const g = r.introduce(1);
    const chunks: string[] = [];
    r.daemon.onOutput(1, (t) => chunks.push(t));
    r.run();
    g.write('hello, ');
    g.write('world\n');
    const tasks = r.host.container.resolve(Dom0Tasks);
    expect(tasks.pending).toBe(1);
    expect(r.daemon.log(1)).toBe('');
    expect(g.u32(XenconsInterface.outCons)).toBe(0);
    const before = r.host.engine.now;
    r.run();
    expect(r.host.engine.now).toBeGreaterThan(before);
    expect(tasks.pending).toBe(0);
    expect(r.daemon.log(1)).toBe('hello, world\n');
    expect(chunks.join('')).toBe('hello, world\n');
    expect(chunks).toHaveLength(1);
    expect(g.u32(XenconsInterface.outCons)).toBe(g.u32(XenconsInterface.outProd));
    expect(g.pending()).toBe(true);
  });

  it('reads output the guest wrote before xenconsoled attached', async () => {
    r = await rig(1);
    const g = new ConsoleGuest(r.host, 1);
    g.write('boot banner\n', false);
    r.xs.introduce(1, { ringRef: GFN, port: g.port });
    r.run();
    expect(r.daemon.log(1)).toBe('boot banner\n');
  });

  it('handles free-running indexes that wrap past 2^32 and data that wraps the 2048-byte ring', async () => {
    r = await rig(1);
    const g = new ConsoleGuest(r.host, 1);
    g.setIndexes(0xffff_ffff - 100);
    r.xs.introduce(1, { ringRef: GFN, port: g.port });
    const text = Array.from({ length: 30 }, (_, i) => `line ${i} ${'x'.repeat(40)}\n`).join('');
    expect(text.length).toBeGreaterThan(1024);
    expect(text.length).toBeLessThan(2048);
    g.write(text);
    r.run();
    g.write(text);
    r.run();
    expect(r.daemon.log(1)).toBe(text + text);
    expect(g.u32(XenconsInterface.outCons)).toBe((0xffff_ffff - 100 + 2 * text.length) >>> 0);
  });

  it('decodes UTF-8 split across two ring reads for listeners', async () => {
    r = await rig(1);
    const g = r.introduce(1);
    const chunks: string[] = [];
    const off = r.daemon.onOutput(1, (t) => chunks.push(t));
    const bytes = new TextEncoder().encode('é€');
    g.write(bytes.subarray(0, 1));
    r.run();
    g.write(bytes.subarray(1));
    r.run();
    expect(chunks.join('')).toBe('é€');
    off();
    g.write('more');
    r.run();
    expect(chunks.join('')).toBe('é€');
    expect(r.daemon.log(1)).toBe('é€more');
  });

  it('keeps only the last logLimit bytes of the log', async () => {
    r = await rig(1, { logLimit: 4096 });
    const g = r.introduce(1);
    for (let i = 0; i < 5; i++) {
      g.write(String(i).repeat(1500));
      r.run();
    }
    const log = r.daemon.log(1);
    expect(log).toHaveLength(4096);
    expect(log.endsWith('4'.repeat(1500))).toBe(true);
    expect(log.startsWith('2'.repeat(1096))).toBe(true);
  });
});

describe('input', () => {
  it('goes into the in ring as room allows; the rest waits until the guest consumes and notifies', async () => {
    r = await rig(1);
    const g = r.introduce(1);
    r.run();
    const text = 'abcdefghij'.repeat(150);
    r.daemon.input(1, text);
    r.run();
    expect(g.u32(XenconsInterface.inProd)).toBe(1024);
    expect(r.daemon.pendingInput(1)).toBe(text.length - 1024);
    expect(g.pending()).toBe(true);
    const first = g.readInput();
    r.run();
    expect(r.daemon.pendingInput(1)).toBe(0);
    expect(first + g.readInput()).toBe(text);
  });

  it('refuses input for a domain without a console', async () => {
    r = await rig(1);
    expect(() => r!.daemon.input(1, 'x')).toThrow(expect.objectContaining({ code: 'ENOENT', message: expect.stringContaining('dom1') }));
  });
});

describe('the console socket', () => {
  it('gives a client the output from when it connected (no replay), and its bytes become input at the current virtual time', async () => {
    r = await rig(1);
    const g = r.introduce(1);
    g.write('before\n');
    r.run();
    await r.daemon.whenListening(1);
    const c = await SocketClient.connect(r.daemon.socketPath(1)!);
    await r.until(() => r!.daemon.clients(1) === 1, 'the client to be accepted');
    g.write('after\n');
    r.run();
    await r.until(() => c.text() === 'after\n', 'output on the socket');
    c.socket.write('ls -l\n');
    await r.until(() => g.u32(XenconsInterface.inProd) === 6, 'input in the ring');
    expect(g.readInput()).toBe('ls -l\n');
    c.socket.destroy();
  });

  it('a client vanishing closes only that client', async () => {
    r = await rig(1);
    const g = r.introduce(1);
    await r.daemon.whenListening(1);
    const a = await SocketClient.connect(r.daemon.socketPath(1)!);
    const b = await SocketClient.connect(r.daemon.socketPath(1)!);
    await r.until(() => r!.daemon.clients(1) === 2, 'two clients');
    a.socket.destroy();
    await r.until(() => r!.daemon.clients(1) === 1, 'the first client to go');
    g.write('still here\n');
    r.run();
    await r.until(() => b.text() === 'still here\n', 'output to the other client');
    expect(r.daemon.attached()).toEqual([1]);
    b.socket.destroy();
  });
});

describe('a guest that corrupts its ring', () => {
  it('is logged by name and detached for good; the other guests carry on; nothing leaks', async () => {
    r = await rig(2);
    const dom0Ports = r.evtchn.portsInUse(domId(0));
    const bad = r.introduce(1);
    const good = r.introduce(2);
    await r.daemon.whenListening(1);
    const c = await SocketClient.connect(r.daemon.socketPath(1)!);
    bad.write('fine so far\n');
    r.run();
    bad.set(XenconsInterface.outProd, bad.u32(XenconsInterface.outCons) + 5000);
    bad.notify();
    good.write('ok\n');
    r.run();
    expect(r.logs.lines('warn')).toEqual([expect.stringMatching(/^xenconsoled: dom1: console disconnected: corrupt ring indexes: out indexes cons \d+ prod \d+/)]);
    expect(r.daemon.attached()).toEqual([2]);
    expect(r.daemon.log(2)).toBe('ok\n');
    expect(r.daemon.log(1)).toBe('fine so far\n');
    expect(r.evtchn.portsInUse(domId(0))).toBe(dom0Ports + 1);
    expect(r.evtchn.status(domId(1), evtchnPort(bad.port))).toMatchObject({ status: 'unbound' });
    await r.daemon.settled();
    await r.until(() => c.ended, 'the client to be hung up');
    expect(existsSync(join(r.dir, '1.sock'))).toBe(false);
    // Never trusted again: a new write to its console keys does not re-attach it.
    r.xs.write('/local/domain/1/console/port', String(bad.port));
    expect(r.daemon.attached()).toEqual([2]);
    expect(() => r!.daemon.input(1, 'x')).toThrow(/dom1 has no console/);
  });

  it('also when the in ring indexes are corrupt (found while writing input)', async () => {
    r = await rig(1);
    const g = r.introduce(1);
    r.run();
    g.set(XenconsInterface.inProd, 4000);
    r.daemon.input(1, 'x');
    r.run();
    expect(r.logs.lines('warn')).toEqual([expect.stringContaining('dom1: console disconnected: corrupt ring indexes: in indexes cons 0 prod 4000')]);
    expect(r.daemon.attached()).toEqual([]);
  });
});

describe('release and destroy', () => {
  it('@releaseDomain after the home is removed: unbinds, closes the socket, forgets the log, unwatches; no port or watch leaks', async () => {
    r = await rig(2);
    const dom0Ports = r.evtchn.portsInUse(domId(0));
    const watches = r.xs.watchCount;
    const g = r.introduce(1);
    r.introduce(2);
    g.write('bye\n');
    r.run();
    await r.daemon.whenListening(1);
    const c = await SocketClient.connect(r.daemon.socketPath(1)!);
    await r.until(() => r!.daemon.clients(1) === 1, 'the client');
    r.xs.release(1);
    expect(r.daemon.attached()).toEqual([2]);
    expect(r.daemon.tracked()).toEqual([2]);
    expect(r.daemon.log(1)).toBe('');
    expect(r.evtchn.portsInUse(domId(0))).toBe(dom0Ports + 1);
    expect(r.evtchn.status(domId(1), evtchnPort(g.port))).toMatchObject({ status: 'unbound' });
    expect(r.xs.watchCount).toBe(watches + 1);
    await r.daemon.settled();
    await r.until(() => c.ended, 'the client to be hung up');
    expect(existsSync(join(r.dir, '1.sock'))).toBe(false);
    await r.daemon.dispose();
    expect(r.evtchn.portsInUse(domId(0))).toBe(dom0Ports);
    expect(r.xs.watchCount).toBe(0);
    expect(existsSync(join(r.dir, '2.sock'))).toBe(false);
  });

  it('a destroyed domain is detached at once (before its memory goes), with nothing left behind', async () => {
    r = await rig(1);
    const dom0Ports = r.evtchn.portsInUse(domId(0));
    const g = r.introduce(1);
    g.write('x');
    r.host.domains.destroy(1);
    expect(r.daemon.attached()).toEqual([]);
    expect(r.evtchn.portsInUse(domId(0))).toBe(dom0Ports);
    r.run();
    expect(r.logs.lines('warn')).toEqual([]);
    expect(r.daemon.tracked()).toEqual([]);
    await r.daemon.settled();
    expect(existsSync(join(r.dir, '1.sock'))).toBe(false);
  });
});
