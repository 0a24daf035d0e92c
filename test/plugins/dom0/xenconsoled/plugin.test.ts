/** The xenconsoled plugin in a booted host, with a test-only XENSTORE provider: wiring, run-dir socket, Dom0 time, shutdown. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveHostDefinition } from '../../../../core/config/host.js';
import { Host } from '../../../../core/host/host.js';
import { coreFeaturesOf } from '../../../../core/cli/machine.js';
import { LazyCatalog } from '../../../../core/plugin-host/catalog.js';
import { Consoles, EventChannels, NoOptions, Xenstore, definePlugin } from '../../../../core/api/index.js';
import { domId } from '../../../../core/public/index.js';
import { IN_TREE_PLUGINS } from '../../../../plugins/catalog.js';
import { DEFAULT_COST_MODEL } from '../../../../core/engine/cost-model.js';
import { WAKE_CYCLES } from '../../../../plugins/dom0/xenconsoled/costs.js';
import { FakeXenstore } from './fake-xenstore.js';
import { ConsoleGuest, GFN, SocketClient } from './helpers.js';

let host: Host | undefined;
let dir: string | undefined;
afterEach(async () => {
  await host?.shutdown();
  host = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Provides XENSTORE with a FakeXenstore as Dom0's client, in place of xenstored. */
function fakeXenstored(xs: FakeXenstore) {
  return definePlugin({
    name: 'fake-xenstored',
    version: '0.1.0',
    kind: 'dom0-service',
    engine: '^0.1.0',
    description: 'test-only XENSTORE provider',
    provides: ['XENSTORE'],
    requires: ['EVENT_CHANNELS'],
    configSchema: NoOptions,
    register(ctx) {
      ctx.provide(Xenstore, { socketPath: '', dom0: xs, introduce() {}, release() {}, isIntroduced: () => true, attachedDomains: () => [], nodeCount: () => xs.nodes.size });
      return {};
    },
  });
}

async function boot(xs: FakeXenstore, options: Record<string, unknown> = {}): Promise<Host> {
  dir = mkdtempSync(join(tmpdir(), 'xcons-plugin-'));
  const catalog = new LazyCatalog('test', {
    credit: IN_TREE_PLUGINS.credit!,
    xenconsoled: IN_TREE_PLUGINS.xenconsoled!,
    'fake-xenstored': { folder: 'test/plugins/dom0/xenconsoled', load: async () => ({ default: fakeXenstored(xs) }) },
  });
  const definition = {
    name: 'xcons-test',
    seed: 1,
    cpus: 2,
    memory: '512MiB',
    dom0: { memory: '64MiB', vcpus: 1 },
    plugins: ['credit', 'fake-xenstored', { name: 'xenconsoled', options }],
    domains: [{ name: 'g', type: 'pvh', kernel: 'generic', memory: 16, vcpus: 1 }],
  };
  const r = resolveHostDefinition(definition, { file: 'test.yaml', loadDomainFile: () => ({ errors: [], warnings: [] }) });
  if (!r.host) throw new Error(r.errors.map((e) => e.message).join('\n'));
  host = await Host.boot(r.host, { catalog, coreFeatures: await coreFeaturesOf(catalog), runDir: dir });
  return host;
}

/** Dom0's CPU time so far (all its vCPUs, running state), ns. */
function dom0Running(h: Host): number {
  return h.domains.lookup(0).vcpus.reduce((t, v) => t + v.runstateInfo().time.running, 0);
}

describe('the xenconsoled plugin', () => {
  it('provides Consoles and XENCONSOLE; serves a guest at <run dir>/console/<domid>.sock; output costs Dom0 time; shutdown leaves nothing', async () => {
    const xs = new FakeXenstore();
    const h = await boot(xs);
    expect(h.plugins.hasFeature('XENCONSOLE')).toBe(true);
    const consoles = h.plugins.resolveAll(Consoles)[0]!;
    const evtchn = h.container.resolve(EventChannels);
    const dom0Ports = evtchn.portsInUse(domId(0));
    const g = new ConsoleGuest(h, 1);
    xs.introduce(1, { ringRef: GFN, port: g.port });
    const path = join(dir!, 'console', '1.sock');
    expect(consoles.attached()).toEqual([1]);
    expect(evtchn.portsInUse(domId(0))).toBe(dom0Ports + 1);
    expect(consoles.socketPath(1)).toBe(path);
    expect(xs.read('/local/domain/1/console/tty')).toBe(path);
    h.runFor(5e6);
    /** Dom0 time spent servicing one notify from the guest after `write`. */
    const serviceTime = (write: () => void): number => {
      const before = dom0Running(h);
      write();
      g.notify();
      h.runFor(5e6);
      return dom0Running(h) - before;
    };
    const empty = serviceTime(() => {});
    const busy = serviceTime(() => g.write('x'.repeat(2000), false));
    expect(consoles.log(1)).toBe('x'.repeat(2000));
    const c = await (async () => {
      for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 5));
      return SocketClient.connect(path);
    })();
    // An empty ring costs the loop's wake-up; 2000 bytes add their copy and a notify hypercall (at 3 GHz).
    const extra = 2000 * DEFAULT_COST_MODEL.copyPerByte + DEFAULT_COST_MODEL.hypercall;
    expect(empty).toBeGreaterThanOrEqual((WAKE_CYCLES * 1000) / DEFAULT_COST_MODEL.cpuMhz);
    expect(busy - empty).toBeCloseTo((extra * 1000) / DEFAULT_COST_MODEL.cpuMhz, 0);
    await h.shutdown();
    host = undefined;
    expect(existsSync(path)).toBe(false);
    for (let i = 0; i < 200 && !c.ended; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(c.ended).toBe(true);
    expect(xs.watchCount).toBe(0);
  });

  it('takes its socket folder from the socketDir option and refuses unknown options', async () => {
    const xs = new FakeXenstore();
    const h = await boot(xs, { socketDir: join(tmpdir(), `xcons-opt-${process.pid}`) });
    const g = new ConsoleGuest(h, 1);
    xs.introduce(1, { ringRef: GFN, port: g.port });
    expect(h.plugins.resolveAll(Consoles)[0]!.socketPath(1)).toBe(join(tmpdir(), `xcons-opt-${process.pid}`, '1.sock'));
    await h.shutdown();
    host = undefined;
    rmSync(join(tmpdir(), `xcons-opt-${process.pid}`), { recursive: true, force: true });
    await expect(boot(new FakeXenstore(), { logLimt: 5 })).rejects.toThrow(/logLimt/);
  });
});
