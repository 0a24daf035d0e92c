import { container as rootContainer } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import { token } from '../../../core/api/index.js';
import { PluginHost } from '../../../core/plugin-host/host.js';
import type { PluginStatusChange } from '../../../core/plugin-host/status.js';
import { catalogOf, entries, manifest, withRegister } from './helpers.js';

const Device = token<string>('test.Device');
const Clock = token<string>('test.Clock');

/** A plugin that provides `Device` = its name and records its phases in `log`. */
function device(name: string, log: string[], extra: Record<string, unknown> = {}) {
  return withRegister(
    name,
    (ctx) => {
      log.push(`register ${name}`);
      ctx.provide(Device, name);
      ctx.onDispose(() => void log.push(`onDispose ${name} #1`));
      ctx.onDispose(() => void log.push(`onDispose ${name} #2`));
      return { start: () => void log.push(`start ${name}`), dispose: () => void log.push(`dispose ${name}`) };
    },
    extra,
  );
}

async function run(manifests: ReturnType<typeof manifest>[], names = manifests.map((m) => m.name), features: string[] = []) {
  const host = new PluginHost({ catalog: catalogOf(manifests), features });
  const changes: PluginStatusChange[] = [];
  host.events.on('status', (c) => changes.push(c));
  await host.run(entries(...names));
  return { host, changes };
}

describe('plugin host: lifecycle', () => {
  it('registers every plugin, then starts every plugin, dependencies first and ties by name', async () => {
    const log: string[] = [];
    const { host } = await run([device('zeta', log), device('alpha', log, { dependencies: ['zeta'] }), device('mid', log)]);
    expect(log).toEqual(['register mid', 'register zeta', 'register alpha', 'start mid', 'start zeta', 'start alpha']);
    expect(host.resolveAll(Device)).toEqual(['mid', 'zeta', 'alpha']);
    expect(host.statuses().map((s) => [s.name, s.status])).toEqual([['alpha', 'started'], ['mid', 'started'], ['zeta', 'started']]);
  });

  it('contains a plugin whose register throws: it fails by name, its dependants are skipped, the others start', async () => {
    const log: string[] = [];
    const broken = withRegister('broken', (ctx) => {
      ctx.provide(Device, 'broken');
      throw new Error('no such port');
    });
    const { host } = await run([broken, device('needs-broken', log, { dependencies: ['broken'] }), device('needs-needs', log, { dependencies: ['needs-broken'] }), device('fine', log)]);
    expect(host.status('broken')).toMatchObject({ status: 'failed', error: '(plugin broken): register failed: no such port' });
    expect(host.status('needs-broken')).toMatchObject({ status: 'skipped', error: '(plugin needs-broken): not started: its dependency "broken" failed' });
    expect(host.status('needs-needs')).toMatchObject({ status: 'skipped', error: '(plugin needs-needs): not started: its dependency "needs-broken" was skipped' });
    expect(host.status('fine')?.status).toBe('started');
    expect(host.resolveAll(Device)).toEqual(['fine']);
    expect(log).toEqual(['register fine', 'start fine']);
  });

  it('contains a plugin whose start rejects: contributions withdrawn, hooks run, registered dependants disposed and skipped', async () => {
    const log: string[] = [];
    const flaky = withRegister('flaky', (ctx) => {
      ctx.provide(Device, 'flaky');
      ctx.onDispose(() => void log.push('onDispose flaky'));
      return { start: async () => Promise.reject(new Error('socket in use')), dispose: () => void log.push('dispose flaky') };
    });
    const { host, changes } = await run([flaky, device('after', log, { dependencies: ['flaky'] }), device('other', log)]);
    expect(host.status('flaky')).toMatchObject({ status: 'failed', error: '(plugin flaky): start failed: socket in use' });
    expect(host.status('after')?.status).toBe('skipped');
    expect(host.resolveAll(Device)).toEqual(['other']);
    expect(log).toEqual([
      'register after',
      'register other',
      'dispose flaky',
      'onDispose flaky',
      'dispose after',
      'onDispose after #2',
      'onDispose after #1',
      'start other',
    ]);
    expect(changes.filter((c) => c.name === 'flaky').map((c) => `${c.from}→${c.to}`)).toEqual(['available→enabled', 'enabled→failed']);
  });

  it('skips a plugin whose required feature went with a failed provider', async () => {
    const provider = withRegister('store', () => {
      throw new Error('boom');
    }, { provides: ['XENSTORE'] });
    const { host } = await run([provider, manifest('user', { requires: ['XENSTORE'] })]);
    expect(host.hasFeature('XENSTORE')).toBe(false);
    expect(host.status('user')).toMatchObject({ status: 'skipped', error: expect.stringContaining('the feature XENSTORE it requires went with a plugin that failed') });
  });

  it('disposes in reverse start order; a throwing dispose is reported and the rest still dispose', async () => {
    const log: string[] = [];
    const bad = withRegister('b', (ctx) => {
      ctx.onDispose(() => void log.push('onDispose b'));
      return {
        dispose: () => {
          throw new Error('stuck');
        },
      };
    });
    const { host } = await run([device('a', log), bad, device('c', log)]);
    log.length = 0;
    const errors: string[] = [];
    host.events.on('disposeError', (name, e) => errors.push(`${name}: ${e.message}`));
    const problems = await host.dispose();
    expect(log).toEqual(['dispose c', 'onDispose c #2', 'onDispose c #1', 'onDispose b', 'dispose a', 'onDispose a #2', 'onDispose a #1']);
    expect(problems.map((p) => p.error.message)).toEqual(['(plugin b): dispose failed: stuck']);
    expect(errors).toEqual(['b: (plugin b): dispose failed: stuck']);
    expect(host.resolveAll(Device)).toEqual([]);
    expect(host.statuses().map((s) => s.status)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(await host.dispose()).toEqual([]);
  });

  it('resolves a single provider, falls back to the host container, and refuses an ambiguous token', async () => {
    const container = rootContainer.createChildContainer();
    container.register(Clock, { useValue: 'tsc' });
    const seen: unknown[] = [];
    const consumer = withRegister('consumer', (ctx) => {
      seen.push(ctx.resolve(Clock), ctx.resolveAll(Device));
      try {
        ctx.resolve(Device);
      } catch (error) {
        seen.push((error as Error).message);
      }
      try {
        ctx.resolve(token('test.Nothing'));
      } catch (error) {
        seen.push((error as Error).message);
      }
    }, { dependencies: ['a', 'b'] });
    const host = new PluginHost({ catalog: catalogOf([device('a', []), device('b', []), consumer]), container });
    await host.run(entries('consumer', 'a', 'b'));
    expect(seen).toEqual([
      'tsc',
      ['a', 'b'],
      '(plugin consumer): xenoserver:test.Device has 2 providers (a, b): use resolveAll',
      '(plugin consumer): cannot resolve xenoserver:test.Nothing: no plugin provides it and the host container does not have it',
    ]);
  });

  it('gives each plugin its options, a logger of its own, and the features in force', async () => {
    const lines: string[] = [];
    const probe = withRegister('probe', (ctx) => {
      ctx.log.info(`HAP=${ctx.hasFeature('HAP')} PV=${ctx.hasFeature('PV')} name=${ctx.name}`);
    });
    const host = new PluginHost({
      catalog: catalogOf([probe]),
      features: ['HAP'],
      logger: (source) => ({ debug() {}, info: (m) => void lines.push(`${source}: ${m}`), warn() {}, error() {}, child: () => { throw new Error('unused'); } }),
    });
    await host.run(entries('probe'));
    expect(lines).toEqual(['plugin probe: HAP=true PV=false name=probe']);
  });

  it('lists the build, the tree and the configured plugins for `xeno plugins`', async () => {
    const host = new PluginHost({ catalog: catalogOf([manifest('credit', { kind: 'scheduler', version: '0.2.0' }), manifest('idle')], ['credit', 'idle', 'xenstored'], 'minimal') });
    await host.run(entries('credit'));
    expect(await host.describe()).toEqual([
      { name: 'credit', kind: 'scheduler', version: '0.2.0', source: 'plugins/test/credit', status: 'started' },
      { name: 'idle', kind: 'device-model', version: '1.0.0', source: 'plugins/test/idle', status: 'available' },
      { name: 'xenstored', source: 'xenstored', status: 'not-in-build', error: 'plugin "xenstored" is not in build "minimal"' },
    ]);
  });

  it('refuses contributions from a plugin once it has failed', async () => {
    let late: (() => void) | undefined;
    const sneaky = withRegister('sneaky', (ctx) => {
      late = () => ctx.provide(Device, 'late');
      throw new Error('nope');
    });
    const { host } = await run([sneaky]);
    expect(() => late?.()).toThrow('(plugin sneaky): cannot provide xenoserver:test.Device: the plugin is failed');
    expect(host.resolveAll(Device)).toEqual([]);
  });
});
