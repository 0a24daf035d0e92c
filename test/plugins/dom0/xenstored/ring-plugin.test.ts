/** The xenstored plugin in a booted host: socket in place, Xenstore provided, rings served as Dom0 tasks, socket input entering the simulation, guests released on death. */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHostDefinition } from '../../../../core/config/host.js';
import { Host } from '../../../../core/host/host.js';
import { coreFeaturesOf } from '../../../../core/cli/machine.js';
import { EventChannels, RunDir, Xenstore } from '../../../../core/api/index.js';
import { domId, guestPhysAddr } from '../../../../core/public/index.js';
import { treeCatalog } from '../../../../plugins/catalog.js';
import { XS_RING } from '../../../../plugins/dom0/xenstored/ring.js';
import { XsType, decodeHeader, encodeMessage } from '../../../../plugins/dom0/xenstored/wire.js';

let host: Host | undefined;
let dir: string | undefined;
afterEach(async () => {
  await host?.shutdown();
  host = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function boot(xenstored: unknown = 'xenstored'): Promise<Host> {
  const definition = {
    name: 'xs-test',
    seed: 1,
    cpus: 2,
    memory: '512MiB',
    dom0: { memory: '64MiB', vcpus: 1 },
    plugins: ['credit', xenstored],
    domains: [{ name: 'g', type: 'pvh', kernel: 'generic', memory: 16, vcpus: 1 }],
  };
  const r = resolveHostDefinition(definition, { file: 'test.yaml', loadDomainFile: () => ({ errors: [], warnings: [] }) });
  if (!r.host) throw new Error(r.errors.map((e) => e.message).join('\n'));
  host = await Host.boot(r.host, { catalog: treeCatalog, coreFeatures: await coreFeaturesOf(treeCatalog) });
  return host;
}

const xenstoreOf = (h: Host): Xenstore => h.plugins.resolveAll(Xenstore)[0]!;

/** Dom0's CPU time so far (all its vCPUs, running state), ns. */
function dom0Running(h: Host): number {
  return h.domains.lookup(0).vcpus.reduce((t, v) => t + v.runstateInfo().time.running, 0);
}

describe('the xenstored plugin', () => {
  it('listens on <run dir>/xenstored.sock by default and removes it at shutdown', async () => {
    const h = await boot();
    const runDir = h.container.resolve(RunDir);
    const path = join(runDir, 'xenstored.sock');
    expect(h.plugins.resolveAll(Xenstore)[0]!.socketPath).toBe(path);
    expect(existsSync(path)).toBe(true);
    await h.shutdown();
    host = undefined;
    expect(existsSync(path)).toBe(false);
    rmSync(runDir, { recursive: true, force: true });
  });

  it('introduce attaches the guest ring; requests are served by a Dom0 task later in virtual time; death releases it and fires @releaseDomain', async () => {
    dir = mkdtempSync(join(tmpdir(), 'xs-plugin-'));
    const h = await boot({ name: 'xenstored', options: { socket: join(dir, 's.sock') } });
    const xs = xenstoreOf(h);
    expect(xs.socketPath).toBe(join(dir, 's.sock'));
    const evtchn = h.container.resolve(EventChannels);
    const guestPort = evtchn.allocUnbound(domId(1), domId(0));
    const released: string[] = [];
    const introduced: string[] = [];
    xs.dom0.watch('@releaseDomain', (p) => released.push(p));
    xs.dom0.watch('@introduceDomain', (p) => introduced.push(p));
    h.runFor(1_000);
    expect([released.length, introduced.length]).toEqual([1, 1]);
    xs.introduce(1, 0x300, guestPort);
    expect(introduced).toHaveLength(2);
    expect(xs.isIntroduced(1)).toBe(true);
    expect(xs.attachedDomains()).toEqual([1]);
    const mem = h.domains.lookup(1).guestMemory;
    const base = 0x300 * 4096;
    expect(mem.readU32(guestPhysAddr(base + XS_RING.serverFeatures))).toBe(3);
    h.runFor(1_000_000);
    const cpuBefore = dom0Running(h);
    const req = encodeMessage(XsType.GET_DOMAIN_PATH, 9, 0, '1\0');
    mem.write(guestPhysAddr(base + XS_RING.req), req);
    mem.writeU32(guestPhysAddr(base + XS_RING.reqProd), req.length);
    evtchn.notify(domId(1), guestPort);
    evtchn.notify(domId(1), guestPort);
    // Nothing yet: the work is queued for Dom0's vCPU (once, however many notifies).
    expect(mem.readU32(guestPhysAddr(base + XS_RING.rspProd))).toBe(0);
    h.runFor(1_000_000);
    const rspProd = mem.readU32(guestPhysAddr(base + XS_RING.rspProd));
    const rsp = mem.read(guestPhysAddr(base + XS_RING.rsp), rspProd);
    expect(decodeHeader(rsp)).toMatchObject({ type: XsType.GET_DOMAIN_PATH, reqId: 9 });
    expect(Buffer.from(rsp.subarray(16)).toString('latin1')).toBe('/local/domain/1\0');
    expect(rspProd).toBe(16 + 16);
    expect(dom0Running(h)).toBeGreaterThan(cpuBefore);
    const before = released.length;
    h.domains.destroy(domId(1));
    expect(xs.attachedDomains()).toEqual([]);
    expect(xs.isIntroduced(1)).toBe(false);
    expect(released).toHaveLength(before + 1);
    expect(evtchn.portsInUse(domId(0))).toBe(0);
  });

  it('release detaches the ring and fires @releaseDomain; releasing an unknown domain is ENOENT, Dom0 EINVAL', async () => {
    const h = await boot();
    const xs = xenstoreOf(h);
    const evtchn = h.container.resolve(EventChannels);
    const guestPort = evtchn.allocUnbound(domId(1), domId(0));
    xs.introduce(1, 0x300, guestPort);
    const released: string[] = [];
    xs.dom0.watch('@releaseDomain', (p) => released.push(p));
    h.runFor(1_000);
    xs.release(1);
    expect(released).toEqual(['@releaseDomain', '@releaseDomain']);
    expect(xs.attachedDomains()).toEqual([]);
    expect(evtchn.portsInUse(domId(0))).toBe(0);
    expect(() => xs.release(1)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => xs.release(0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => xs.introduce(7, 0x300, 1)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    rmSync(h.container.resolve(RunDir), { recursive: true, force: true });
  });

  it('socket requests enter the simulation: answered only while the engine runs', async () => {
    dir = mkdtempSync(join(tmpdir(), 'xs-plugin-'));
    const h = await boot({ name: 'xenstored', options: { socket: join(dir, 's.sock') } });
    const xs = xenstoreOf(h);
    xs.dom0.write('/a', 'hello');
    const sock: Socket = await new Promise((resolve, reject) => {
      const s = createConnection(xs.socketPath, () => resolve(s));
      s.once('error', reject);
    });
    try {
      let got = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
      const startNs = h.engine.now;
      sock.write(encodeMessage(XsType.READ, 5, 0, '/a\0'));
      // The engine is not running: the request waits in the event queue.
      await new Promise((r) => setTimeout(r, 50));
      expect(got.length).toBe(0);
      for (let i = 0; i < 200 && got.length < 21; i++) {
        h.runFor(100_000);
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(decodeHeader(got)).toMatchObject({ type: XsType.READ, reqId: 5, len: 5 });
      expect(got.subarray(16).toString('latin1')).toBe('hello');
      expect(h.engine.now).toBeGreaterThan(startNs);
    } finally {
      sock.destroy();
    }
  });
});
