import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { definePlugin, NoOptions } from '../../core/api/index.js';
import { StaticCatalog, PluginLoadError, type PluginCatalog } from '../../core/plugin-host/index.js';
import { treeCatalog } from '../../plugins/catalog.js';
import creditPlugin from '../../plugins/schedulers/credit/index.js';
import cpuLoopPlugin from '../../plugins/workloads/cpu-loop/index.js';
import { bootHost, loadDefinition } from './machine.js';
import { EventChannels } from '../../core/api/event-channel.js';
import { GrantTables } from '../../core/api/grant-table.js';
import { domId } from '../../core/public/types.js';

const broken = definePlugin({
  name: 'broken',
  version: '1.0.0',
  kind: 'dom0-service',
  engine: '^0.1.0',
  configSchema: NoOptions,
  register() {
    throw new Error('cannot open /dev/imaginary');
  },
});

const needsBroken = definePlugin({
  name: 'needs-broken',
  version: '1.0.0',
  kind: 'dom0-service',
  engine: '^0.1.0',
  dependencies: ['broken'],
  configSchema: NoOptions,
  register() {},
});

function catalogWith(...extra: (typeof broken)[]): PluginCatalog {
  const entries: Record<string, { manifest: unknown }> = { credit: { manifest: creditPlugin }, 'cpu-loop': { manifest: cpuLoopPlugin } };
  for (const m of extra) entries[m.name] = { manifest: m };
  return new StaticCatalog('test', entries as never);
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xeno-bad-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function machine(yaml: string): Promise<string> {
  const file = join(dir, 'lab.yaml');
  await writeFile(file, yaml);
  return file;
}

describe('bad input at host level', () => {
  it('reports a plugin that throws in register() by name, skips its dependants, and runs the rest', async () => {
    const file = await machine(
      ['name: lab', 'cpus: 2', 'memory: 2GiB', 'plugins: [credit, cpu-loop, broken, needs-broken]', 'domains:', '  - { name: g1, type: pvh, kernel: generic, memory: 64 }', ''].join('\n'),
    );
    const { host, logs } = await bootHost(await loadDefinition(file), { catalog: catalogWith(broken, needsBroken) });
    try {
      expect(host.plugins.status('broken')).toMatchObject({ status: 'failed' });
      expect(host.plugins.status('broken')!.error).toMatch(/broken.*cannot open \/dev\/imaginary/);
      expect(host.plugins.status('needs-broken')).toMatchObject({ status: 'skipped' });
      expect(host.plugins.status('needs-broken')!.error).toMatch(/broken/);
      expect(host.plugins.status('cpu-loop')).toMatchObject({ status: 'started' });
      host.runFor(20e6);
      const g1 = host.domains.list().find((d) => d.name === 'g1')!;
      expect(g1.vcpus[0]!.runstateInfo().time.running).toBeGreaterThan(0);
      expect(logs.lines('error').join('\n')).toMatch(/broken/);
    } finally {
      await host.shutdown();
    }
  });

  it('refuses an unknown plugin before anything runs, naming the file, line and a close match', async () => {
    const file = await machine(['name: lab', 'plugins:', '  - credit', '  - cpu-lop', ''].join('\n'));
    const def = await loadDefinition(file);
    const boot = bootHost(def, { catalog: treeCatalog });
    await expect(boot).rejects.toBeInstanceOf(PluginLoadError);
    await expect(boot).rejects.toThrow(/lab\.yaml:4 › plugins\[1\].*"cpu-lop".*cpu-loop/s);
  });

  it('refuses a scheduler no enabled plugin provides, naming the key', async () => {
    const file = await machine(['name: lab', 'scheduler: rtds', ''].join('\n'));
    await expect(bootHost(await loadDefinition(file))).rejects.toThrow(/lab\.yaml:2 › scheduler: scheduler "rtds" is not provided by any enabled plugin \(registered: none\)/);
  });

  it("refuses a guest whose memory the host cannot hold, and keeps nothing of it", async () => {
    const file = await machine(['name: lab', 'memory: 1GiB', 'dom0: { memory: 512MiB }', 'plugins: [credit]', ''].join('\n'));
    const def = await loadDefinition(file);
    const { host } = await bootHost(def);
    try {
      const free = host.memory.freeFrames;
      const before = host.domains.size;
      const huge = { source: { file }, name: 'huge', type: 'pvh', memoryBytes: 2 ** 30, maxmemBytes: 2 ** 30, vcpus: 1, maxvcpus: 1, cpus: { all: 'all', perVcpu: [] }, disk: [], vif: [], pci: [], serial: [] };
      expect(() => host.createGuest(huge as never)).toThrow(expect.objectContaining({ code: 'ENOMEM', message: expect.stringMatching(/dom\d+.*out of machine memory/) }));
      expect(host.domains.size).toBe(before);
      expect(host.memory.freeFrames).toBe(free);
    } finally {
      await host.shutdown();
    }
  });

  it('refuses a feature the build does not enable, naming it and the key', async () => {
    const file = await machine(['name: lab', 'plugins: [credit]', 'features: [HAP, XENSTORE]', ''].join('\n'));
    await expect(bootHost(await loadDefinition(file))).rejects.toThrow(/lab\.yaml:3 › features\[1\]: feature XENSTORE is not enabled in build "tree"/);
  });

  it('refuses to run a machine that expects another build', async () => {
    const file = await machine(['name: lab', 'build: minimal', 'plugins: [credit]', ''].join('\n'));
    await expect(bootHost(await loadDefinition(file), { catalog: catalogWith() })).rejects.toThrow(/lab\.yaml:2 › build: this machine expects build "minimal", but this is build "test"/);
  });

  it("gives the host's PCI devices to Dom0 behind the IOMMU, and confines their DMA to Dom0's memory", async () => {
    const file = await machine(['name: lab', 'memory: 1GiB', 'dom0: { memory: 64MiB }', 'plugins: [credit]', 'devices:', '  - { bdf: "00:19.0", kind: nic, model: e1000 }', ''].join('\n'));
    const { host } = await bootHost(await loadDefinition(file));
    try {
      const bdf = (0x19 << 3) as never;
      expect(host.iommu.ownerOf(bdf)).toBe(0);
      expect(host.iommu.dmaWrite(bdf, 0x1000 as never, new Uint8Array([1, 2, 3])).ok).toBe(true);
      const beyond = host.iommu.dmaWrite(bdf, (64 * 2 ** 20) as never, new Uint8Array([1]));
      expect(beyond.ok).toBe(false);
      expect(host.iommu.faultCount).toBe(1);
    } finally {
      await host.shutdown();
    }
  });
});

describe("a guest's xl.cfg limits on hypervisor resources", () => {
  it('applies max_event_channels and max_grant_frames to the guest', async () => {
    const file = await machine(['name: lab', 'plugins: [credit]', 'domains:', '  - { name: g, type: pvh, kernel: generic, memory: 32, max_event_channels: 7, max_grant_frames: 2 }', ''].join('\n'));
    const { host } = await bootHost(await loadDefinition(file));
    try {
      const g = host.domains.list().find((d) => d.name === 'g')!;
      const evtchn = host.container.resolve(EventChannels);
      for (let i = 0; i < 7; i++) evtchn.allocUnbound(g.domid, domId(0));
      expect(() => evtchn.allocUnbound(g.domid, domId(0))).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
      const gnttab = host.container.resolve(GrantTables);
      gnttab.frameForPhysmap(g.domid, 1);
      expect(() => gnttab.frameForPhysmap(g.domid, 2)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    } finally {
      await host.shutdown();
    }
  });
});
