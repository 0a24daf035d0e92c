import { describe, expect, it } from 'vitest';
import { CORE_API_VERSION, Type } from '../../../core/api/index.js';
import { PluginHost, PluginLoadError } from '../../../core/plugin-host/host.js';
import { FILE, catalogOf, entries, manifest, rejection } from './helpers.js';

const load = (catalog: ReturnType<typeof catalogOf>, list = entries(...catalog.names()), features: string[] = []) => {
  const host = new PluginHost({ catalog, features });
  return { host, done: host.load(list) };
};

describe('plugin host: loading and checking', () => {
  it('rejects a malformed manifest, naming the plugin, its place and every problem', async () => {
    const { host, done } = load(catalogOf([manifest('bad', { version: 'one', register: 42 })]));
    const error = await rejection(done);
    expect(error).toBeInstanceOf(PluginLoadError);
    expect(error.message).toBe(`${FILE} › plugins[0] (plugin bad): invalid plugin manifest: version must be a semver version; register must be a function`);
    expect(host.status('bad')).toMatchObject({ status: 'failed', error: error.message });
  });

  it('rejects an options schema that is plain JSON Schema rather than TypeBox', async () => {
    const { done } = load(catalogOf([manifest('plain', { configSchema: { type: 'object', properties: {} } })]));
    expect((await rejection(done)).message).toContain('(plugin plain): invalid plugin manifest: configSchema must be a TypeBox schema');
  });

  it('rejects a plugin whose engine range does not accept this core, naming the range and our version', async () => {
    const { done } = load(catalogOf([manifest('future', { engine: '>=2.0.0' })]));
    expect((await rejection(done)).message).toBe(`${FILE} › plugins[0] (plugin future): plugin "future" needs core API >=2.0.0, but this core's API is ${CORE_API_VERSION}`);
  });

  it('rejects an engine that is not a semver range', async () => {
    const { done } = load(catalogOf([manifest('odd', { engine: 'latest' })]));
    expect((await rejection(done)).message).toContain('engine "latest" is not a semver range');
  });

  it('rejects a plugin whose required feature nothing enables', async () => {
    const { done } = load(catalogOf([manifest('hvm-thing', { requires: ['HVM'] })]));
    expect((await rejection(done)).message).toBe(`${FILE} › plugins[0] (plugin hvm-thing): plugin "hvm-thing" requires feature HVM, which neither the core nor an enabled plugin provides`);
  });

  it('accepts a required feature from the core or from another enabled plugin', async () => {
    const catalog = catalogOf([manifest('needs', { requires: ['HAP', 'XENSTORE'] }), manifest('store', { provides: ['XENSTORE'] })]);
    const { host, done } = load(catalog, entries('needs', 'store'), ['HAP']);
    await done;
    expect(host.status('needs')?.status).toBe('enabled');
    expect(host.hasFeature('XENSTORE')).toBe(true);
    expect(host.hasFeature('PV')).toBe(false);
  });

  describe('options', () => {
    const schema = Type.Object({
      period: Type.Integer({ minimum: 1, default: 10 }),
      disk: Type.Array(Type.Object({ format: Type.Union([Type.Literal('raw'), Type.Literal('qcow2')]) })),
    });

    it('names the plugin and the option path of each invalid option', async () => {
      const catalog = catalogOf([manifest('blk', { configSchema: schema })]);
      const { done } = load(catalog, entries({ name: 'blk', options: { period: 0, disk: [{ format: 'raw' }, { format: 'qcow3' }] } }));
      const error = await rejection(done);
      expect(error.problems?.map((p) => p.message)).toEqual([
        expect.stringMatching(/^config\/machines\/lab\.yaml › plugins\[0\]\.options\.period \(plugin blk\): must be at least 1/),
        expect.stringMatching(/^config\/machines\/lab\.yaml › plugins\[0\]\.options\.disk\[1\]\.format \(plugin blk\): expected one of "raw", "qcow2", got .*qcow3/),
      ]);
    });

    it('rejects keys the schema does not declare, even when the schema does not say so', async () => {
      const catalog = catalogOf([manifest('blk', { configSchema: schema })]);
      const { done } = load(catalog, entries({ name: 'blk', options: { perod: 5, disk: [] } }));
      expect((await rejection(done)).message).toBe(`${FILE} › plugins[0].options.perod (plugin blk): unknown key "perod" (did you mean "period"?)`);
    });

    it('applies defaults before register() sees the options', async () => {
      let seen: unknown;
      const catalog = catalogOf([manifest('blk', { configSchema: schema, register: (ctx: { options: unknown }) => void (seen = ctx.options) })]);
      const { host, done } = load(catalog, entries({ name: 'blk', options: { disk: [] } }));
      await done;
      await host.start();
      expect(seen).toEqual({ period: 10, disk: [] });
    });
  });

  it('names the config location of an unknown plugin and suggests close matches', async () => {
    const { done } = load(catalogOf([manifest('credit'), manifest('credit2')]), entries('credi'));
    expect((await rejection(done)).message).toBe(`${FILE} › plugins[0]: unknown plugin "credi" (did you mean "credit" or "credit2"?)`);
  });

  it('tells a plugin the tree has but this build left out from an unknown one', async () => {
    const catalog = catalogOf([manifest('credit')], ['credit', 'xenstored'], 'minimal');
    const { host, done } = load(catalog, entries('credit', 'xenstored'));
    expect((await rejection(done)).message).toBe(`${FILE} › plugins[1]: plugin "xenstored" is not in build "minimal"`);
    expect(host.status('xenstored')?.status).toBe('not-in-build');
  });

  it('rejects a dependency cycle, naming the cycle', async () => {
    const catalog = catalogOf([manifest('a', { dependencies: ['b'] }), manifest('b', { dependencies: ['c'] }), manifest('c', { dependencies: ['a'] }), manifest('d')]);
    const error = await rejection(load(catalog).done);
    expect(error.message).toBe(`${FILE} › plugins[0] (plugin a): dependency cycle: a → b → c → a`);
  });

  it('rejects a dependency that is not enabled, naming both plugins', async () => {
    const catalog = catalogOf([manifest('netback', { dependencies: ['xenstored'] }), manifest('xenstored')]);
    const { done } = load(catalog, entries('netback'));
    expect((await rejection(done)).message).toBe(`${FILE} › plugins[0] (plugin netback): plugin "netback" depends on plugin "xenstored", which is not enabled`);
  });

  it('rejects a plugin enabled twice', async () => {
    const { done } = load(catalogOf([manifest('a')]), entries('a', 'a'));
    expect((await rejection(done)).message).toContain('(plugin a): plugin "a" is enabled twice (first at plugins[0])');
  });

  it('reports every problem at once, before any plugin runs', async () => {
    let registered = false;
    const catalog = catalogOf([manifest('ok', { register: () => void (registered = true) }), manifest('future', { engine: '^9.0.0' })]);
    const { host, done } = load(catalog, entries('ok', 'future', 'nope'));
    const error = await rejection(done);
    expect(error.problems).toHaveLength(2);
    expect(error.message).toMatch(/^2 problems with the configured plugins:\n {2}- .*future.*\n {2}- .*unknown plugin "nope"/);
    await expect(host.start()).rejects.toThrow(/start\(\) runs once, after load\(\)/);
    expect(registered).toBe(false);
  });

  it('loads a package entry without a file relative to the working directory, and fails clearly when absent', async () => {
    const host = new PluginHost({ catalog: catalogOf([]), cwd: '/nonexistent-dir' });
    const error = await rejection(host.load([{ package: 'xeno-plugin-absent', where: { path: 'plugins[0]' } }]));
    expect(error.message).toBe('plugins[0]: cannot find package "xeno-plugin-absent" from /nonexistent-dir');
  });

  it('rejects an entry with neither a name nor a package', async () => {
    const host = new PluginHost({ catalog: catalogOf([]) });
    expect((await rejection(host.load([{ where: { file: FILE, path: 'plugins[0]' } }]))).message).toBe(`${FILE} › plugins[0]: a plugin entry needs exactly one of "name" or "package"`);
  });
});
