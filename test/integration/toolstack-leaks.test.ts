/**
 * Bad days for the toolstack, on a host with every Dom0 service and the generic kernel: a killed console
 * client, a domain destroyed while it boots and while it is being built, a missing kernel, a missing
 * disk image, a duplicate name. Each gets a clear error, the host carries on, and every resource comes
 * back: domids, frames, xenstore nodes, event channels, grants, rings, console sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection } from 'node:net';
import { existsSync } from 'node:fs';
import { Consoles, EventChannels, GrantTables, Toolstack, Xenstore, type Toolstack as ToolstackApi } from '../../core/api/index.js';
import { domId } from '../../core/public/types.js';
import { bootToolstackHost, guest, settle, type ToolstackHost } from '../plugins/dom0/toolstack/harness.js';

let t: ToolstackHost;
let toolstack: ToolstackApi;

beforeAll(async () => {
  t = await bootToolstackHost({ plugins: ['xenconsoled', 'generic-kernel'] });
  toolstack = t.host.plugins.resolveAll(Toolstack)[0]!;
});
afterAll(async () => {
  await t.cleanup();
});

function counts() {
  const h = t.host;
  const xs = h.plugins.resolveAll(Xenstore)[0]!;
  const consoles = h.plugins.resolveAll(Consoles)[0]!;
  const gnttab = h.container.resolve(GrantTables);
  return {
    domains: h.domains.size,
    freeFrames: h.memory.freeFrames,
    xenstoreNodes: xs.nodeCount(),
    rings: xs.attachedDomains().length,
    dom0Ports: h.container.resolve(EventChannels).portsInUse(domId(0)),
    dom0Mappings: gnttab.activeMappings(domId(0)).length,
    consoles: consoles.attached().length,
    records: toolstack.list().length,
  };
}

const cfg = (name: string, extra = ''): ReturnType<typeof guest> => guest(`name = "${name}"\ntype = "pvh"\nkernel = "generic"\nmemory = 32\n${extra}`, `/tmp/${name}.cfg`);

describe('the toolstack on bad days', () => {
  it('a killed console client: the guest and its console carry on', async () => {
    const before = counts();
    const rec = settle(t.host, toolstack.create(cfg('c1'))).result!;
    t.host.runFor(20e6);
    const consoles = t.host.plugins.resolveAll(Consoles)[0]!;
    const path = consoles.socketPath(rec.domid)!;
    expect(existsSync(path)).toBe(true);
    await new Promise<void>((resolve) => {
      const s = createConnection(path, () => {
        s.write('help');
        s.destroy();
        resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 50));
    t.host.runFor(10e6);
    consoles.input(rec.domid, '\necho still here\n');
    t.host.runFor(20e6);
    expect(consoles.log(rec.domid)).toContain('still here');
    settle(t.host, toolstack.destroy(rec.domid));
    t.host.runFor(5e6);
    expect(counts()).toEqual(before);
    await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(path)).toBe(false);
  });

  it('destroying a domain while its kernel boots gives everything back', () => {
    const before = counts();
    const rec = settle(t.host, toolstack.create(cfg('b1'))).result!;
    t.host.runFor(20e3); // 20 µs: the kernel is still probing
    settle(t.host, toolstack.destroy(rec.domid));
    t.host.runFor(5e6);
    expect(counts()).toEqual(before);
  });

  it('destroying a domain while the toolstack is still building it fails the build cleanly', () => {
    const before = counts();
    // 1 GiB: populating it spans several quanta, so the build can be caught half-way.
    const job = toolstack.create(cfg('b2').memoryBytes ? { ...cfg('b2'), memoryBytes: 2 ** 30, maxmemBytes: 2 ** 30 } : cfg('b2'));
    let domid: number | undefined;
    for (let i = 0; i < 10_000 && domid === undefined; i++) {
      t.host.engine.runFor(1e5);
      domid = t.host.domains.list().find((d) => d.name === 'b2')?.domid;
    }
    expect(domid).toBeDefined();
    expect(job.state).toBe('running');
    // As a second toolstack (or the hypervisor's own destroy) would, while this one is still building.
    t.host.domains.destroy(domid!);
    settle(t.host, job);
    expect(job.error?.message).toBe(`(dom${domid}): b2 was destroyed while it was being built`);
    t.host.runFor(5e6);
    expect(counts()).toEqual(before);
  });

  it('a missing kernel, a missing disk image and a duplicate name are refused, naming file and key', () => {
    const before = counts();
    expect(settle(t.host, toolstack.create(guest('name = "k"\ntype = "pvh"\nkernel = "nosuch"\n', '/tmp/k.cfg'))).error?.message).toBe(
      '/tmp/k.cfg › kernel: kernel "nosuch" not found: no such file (/tmp/nosuch), and no kernel of this build has that name (generic, idle, minimal, xenhvm)',
    );
    expect(settle(t.host, toolstack.create(cfg('d', "disk = [ 'nosuch.img,raw,xvda,rw' ]\n"))).error?.message).toBe('/tmp/d.cfg › disk[0]: disk xvda: image nosuch.img does not exist');
    const first = settle(t.host, toolstack.create(cfg('dup'))).result!;
    const mid = counts();
    expect(settle(t.host, toolstack.create(cfg('dup'))).error?.message).toBe('/tmp/dup.cfg › name: domain name "dup" is already in use');
    expect(counts()).toEqual(mid);
    settle(t.host, toolstack.destroy(first.domid));
    t.host.runFor(5e6);
    expect(counts()).toEqual(before);
  });
});
