/** The bridge plugin in a booted host: it provides Bridges and BRIDGES, names missing bridges, writes pcap under the run dir. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Bridges, GuestError } from '../../../../core/api/index.js';
import { coreFeaturesOf } from '../../../../core/cli/machine.js';
import { resolveHostDefinition } from '../../../../core/config/host.js';
import { Host } from '../../../../core/host/host.js';
import { LazyCatalog } from '../../../../core/plugin-host/catalog.js';
import { IN_TREE_PLUGINS } from '../../../../plugins/catalog.js';
import { RecordingPort, frame, mac, BCAST } from './helpers.js';

let host: Host | undefined;
let dir: string | undefined;
afterEach(async () => {
  await host?.shutdown();
  host = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function boot(options?: Record<string, unknown>): Promise<Host> {
  dir = mkdtempSync(join(tmpdir(), 'bridge-plugin-'));
  const catalog = new LazyCatalog('test', {
    credit: IN_TREE_PLUGINS.credit!,
    bridge: { folder: 'plugins/dom0/bridge', load: () => import('../../../../plugins/dom0/bridge/index.js') },
  });
  const definition = {
    name: 'bridge-test',
    seed: 1,
    cpus: 1,
    memory: '256MiB',
    dom0: { memory: '64MiB', vcpus: 1 },
    plugins: ['credit', options ? { name: 'bridge', options } : 'bridge'],
    domains: [],
  };
  const r = resolveHostDefinition(definition, { file: 'test.yaml', loadDomainFile: () => ({ errors: [], warnings: [] }) });
  if (!r.host) throw new Error(r.errors.map((e) => e.message).join('\n'));
  host = await Host.boot(r.host, { catalog, coreFeatures: await coreFeaturesOf(catalog), runDir: dir });
  return host;
}

describe('the bridge plugin', () => {
  it('provides BRIDGES with xenbr0 by default, and names the bridges there are when asked for another', async () => {
    const h = await boot();
    expect(h.plugins.hasFeature('BRIDGES')).toBe(true);
    const bridges = h.plugins.resolveAll(Bridges)[0]!;
    expect(bridges.list().map((b) => [b.name, b.pcapPath])).toEqual([['xenbr0', undefined]]);
    expect(() => bridges.get('xenbr1')).toThrow(GuestError);
    expect(() => bridges.get('xenbr1')).toThrow('bridge xenbr1 does not exist (bridges: xenbr0)');
    const br = bridges.get('xenbr0');
    const s1 = br.attach(new RecordingPort('vif1.0'));
    const p2 = new RecordingPort('vif2.0');
    br.attach(p2);
    expect(s1.bridge.name).toBe('xenbr0');
    s1.send(frame(BCAST, mac(1), 1500 + 4));
    s1.send(frame(BCAST, mac(1), 1500 + 5));
    expect([p2.take(), br.stats.malformed]).toEqual([1, 1]);
  });

  it('writes a relative pcap path under the run dir, stamps it with the engine\'s virtual time, and flushes it at shutdown', async () => {
    const h = await boot({ bridges: [{ name: 'xenbr0', pcap: 'captures/xenbr0.pcap' }, { name: 'lan1', mtu: 9000 }], ageingMs: 1000 });
    const bridges = h.plugins.resolveAll(Bridges)[0]!;
    const path = join(dir!, 'captures', 'xenbr0.pcap');
    expect(bridges.list().map((b) => [b.name, b.pcapPath])).toEqual([['xenbr0', path], ['lan1', undefined]]);
    const br = bridges.get('xenbr0');
    const [p1, p2] = [new RecordingPort('vif1.0'), new RecordingPort('vif2.0')];
    const s1 = br.attach(p1);
    br.attach(p2);
    s1.send(frame(BCAST, mac(1)));
    h.engine.at(2_500_000_000, () => s1.send(frame(BCAST, mac(1))));
    h.engine.runUntil(3_000_000_000);
    expect(br.macs().size).toBe(1);
    expect(readFileSync(path).length).toBe(24);
    await h.shutdown();
    host = undefined;
    const b = readFileSync(path);
    expect(b.length).toBe(24 + 2 * (16 + 60));
    expect([b.readUInt32LE(24), b.readUInt32LE(24 + 76), b.readUInt32LE(24 + 76 + 4)]).toEqual([0, 2, 500_000]);
  });

  it('fails (contained, provides nothing) on options that name one bridge twice, saying which', async () => {
    const h = await boot({ bridges: [{ name: 'xenbr0' }, { name: 'xenbr0' }] });
    expect(h.plugins.status('bridge')).toMatchObject({ status: 'failed', error: expect.stringContaining('bridges[1]: bridge xenbr0 is declared twice') });
    expect(h.plugins.hasFeature('BRIDGES')).toBe(false);
    expect(h.plugins.resolveAll(Bridges)).toEqual([]);
  });

  it('fails naming the pcap file it cannot create', async () => {
    const h = await boot({ bridges: [{ name: 'xenbr0', pcap: '/dev/full' }] });
    expect(h.plugins.status('bridge')?.error).toMatch(/bridges\[0\] \(xenbr0\): cannot create pcap file \/dev\/full: ENOSPC/);
  });
});
