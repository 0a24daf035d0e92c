/** The xenstored plugin in a booted host: socket in place, Xenstore provided, guests introduced over the wire and released on death. */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveHostDefinition } from '../../../../core/config/host.js';
import { Host } from '../../../../core/host/host.js';
import { coreFeaturesOf } from '../../../../core/cli/machine.js';
import { EventChannels, GuestMemory, RunDir } from '../../../../core/api/index.js';
import { domId, guestPhysAddr } from '../../../../core/public/index.js';
import { treeCatalog } from '../../../../plugins/catalog.js';
import { Xenstore } from '../../../../plugins/dom0/xenstored/index.js';
import type { XsConnection } from '../../../../plugins/dom0/xenstored/connection.js';
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

/** An in-process Dom0 client: collects replies and events. */
function dom0Client(xs: Xenstore): { send(type: number, payload: string): void; got: { type: number; payload: string }[] } {
  const got: { type: number; payload: string }[] = [];
  const conn: XsConnection = {
    id: 1000,
    domid: 0,
    label: 'test',
    write: (b) => got.push({ type: decodeHeader(b).type, payload: Buffer.from(b.subarray(16)).toString('latin1') }),
    close: () => {},
  };
  const session = xs.connect(conn);
  return { send: (type, payload) => session.receive(encodeMessage(type, 1, 0, payload)), got };
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

  it('INTRODUCE over the wire attaches the guest ring; the guest is served; its death releases it and fires @releaseDomain', async () => {
    dir = mkdtempSync(join(tmpdir(), 'xs-plugin-'));
    const h = await boot({ name: 'xenstored', options: { socket: join(dir, 's.sock') } });
    const xs = h.plugins.resolveAll(Xenstore)[0]!;
    expect(xs.socketPath).toBe(join(dir, 's.sock'));
    const evtchn = h.container.resolve(EventChannels);
    const guestPort = evtchn.allocUnbound(domId(1), domId(0));
    const c = dom0Client(xs);
    c.send(XsType.WATCH, '@releaseDomain\0tok\0');
    c.send(XsType.INTRODUCE, `1\0${0x300}\0${guestPort}\0`);
    expect(c.got.map((m) => m.type)).toContain(XsType.INTRODUCE);
    expect(c.got.find((m) => m.type === XsType.INTRODUCE)?.payload).toBe('OK\0');
    expect(xs.attachedDomains()).toEqual([1]);
    const mem = h.domains.lookup(1).container.resolve(GuestMemory);
    const base = 0x300 * 4096;
    expect(mem.readU32(guestPhysAddr(base + XS_RING.serverFeatures))).toBe(3);
    const req = encodeMessage(XsType.GET_DOMAIN_PATH, 9, 0, '1\0');
    mem.write(guestPhysAddr(base + XS_RING.req), req);
    mem.writeU32(guestPhysAddr(base + XS_RING.reqProd), req.length);
    evtchn.notify(domId(1), guestPort);
    const rspProd = mem.readU32(guestPhysAddr(base + XS_RING.rspProd));
    const rsp = mem.read(guestPhysAddr(base + XS_RING.rsp), rspProd);
    expect(decodeHeader(rsp)).toMatchObject({ type: XsType.GET_DOMAIN_PATH, reqId: 9 });
    expect(Buffer.from(rsp.subarray(16)).toString('latin1')).toBe('/local/domain/1\0');
    const events = (): number => c.got.filter((m) => m.type === XsType.WATCH_EVENT && m.payload.startsWith('@releaseDomain')).length;
    const before = events();
    h.domains.destroy(domId(1));
    expect(xs.attachedDomains()).toEqual([]);
    expect(events()).toBe(before + 1);
    expect(evtchn.portsInUse(domId(0))).toBe(0);
  });
});
