import { container as rootContainer } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import { Engine, MemoryLogSink, createLogger } from '../../../core/api/index.js';
import { Engine as EngineImpl } from '../../../core/engine/engine.js';
import { PluginHost } from '../../../core/plugin-host/host.js';
import { treeCatalog } from '../../../plugins/catalog.js';
import { TemplateHeartbeat } from '../../../plugins/_template/index.js';
import { rejection } from './helpers.js';

const FILE = 'config/machines/demo.yaml';

/** A host with an engine in its container, the tree's catalog and a log kept in memory. */
function setup() {
  const engine = new EngineImpl({ seed: 1 });
  const container = rootContainer.createChildContainer();
  container.register(Engine, { useValue: engine });
  const sink = new MemoryLogSink();
  const host = new PluginHost({ catalog: treeCatalog, container, logger: (source) => createLogger(source, sink.sink, () => engine.now) });
  return { engine, host, sink };
}

describe('the template plugin, loaded through the plugin host', () => {
  it('beats every period of virtual time, up to maxBeats, and contributes its heartbeat', async () => {
    const { engine, host, sink } = setup();
    await host.run([{ name: 'template', options: { periodNs: 1000, maxBeats: 3, message: 'lub-dub' }, where: { file: FILE, path: 'plugins[0]' } }]);
    expect(host.status('template')).toMatchObject({ status: 'started', kind: 'dom0-service', source: 'plugins/_template' });
    engine.runUntilIdle();
    expect(engine.now).toBe(3000);
    expect(sink.lines()).toEqual(['plugin template: beating every 1000 ns', 'plugin template: lub-dub 1', 'plugin template: lub-dub 2', 'plugin template: lub-dub 3']);
    const [heartbeat] = host.resolveAll(TemplateHeartbeat);
    expect(heartbeat?.metrics()).toEqual({ beats: 3, restores: 0 });
    expect(heartbeat?.save()).toEqual({ version: 1, beats: 3, lastBeatAt: 3000 });
  });

  it('uses its defaults, and stops beating when disposed', async () => {
    const { engine, host } = setup();
    await host.run([{ name: 'template', where: { file: FILE, path: 'plugins[0]' } }]);
    engine.runFor(2_500_000);
    const [heartbeat] = host.resolveAll(TemplateHeartbeat);
    expect(heartbeat?.beats).toBe(2);
    expect(await host.dispose()).toEqual([]);
    expect(engine.runUntilIdle()).toBe('idle');
    expect(heartbeat?.beats).toBe(2);
    expect(host.resolveAll(TemplateHeartbeat)).toEqual([]);
  });

  it('restores a versioned persist record and refuses another version', async () => {
    const { host } = setup();
    await host.run([{ name: 'template' }]);
    const [heartbeat] = host.resolveAll(TemplateHeartbeat);
    heartbeat?.restore({ version: 1, beats: 41, lastBeatAt: 7 });
    expect(heartbeat?.save()).toEqual({ version: 1, beats: 41, lastBeatAt: 7 });
    expect(heartbeat?.metrics().restores).toBe(1);
    expect(() => heartbeat?.restore({ version: 2, beats: 1, lastBeatAt: null })).toThrow('(plugin template): persist record version 2 is not supported (expected 1)');
    expect(() => heartbeat?.restore({ version: 1, beats: -1, lastBeatAt: null })).toThrow(/\(plugin template\): persist record is invalid at \/beats/);
  });

  it('refuses bad options, naming the plugin and the option', async () => {
    const { host } = setup();
    const error = await rejection(host.load([{ name: 'template', options: { periodNs: 0 }, where: { file: FILE, path: 'plugins[0]' } }]));
    expect(error.message).toBe(`${FILE} › plugins[0].options.periodNs (plugin template): must be at least 1, got 0`);
  });
});
