/** Helpers for tests that boot whole machines from config/. */
import { join } from 'node:path';
import { loadHostDefinition, type ResolvedHost } from '../../core/config/index.js';
import { Host } from '../../core/host/host.js';
import { coreFeaturesOf } from '../../core/cli/machine.js';
import { MemoryLogSink } from '../../core/api/log.js';
import { treeCatalog } from '../../plugins/catalog.js';
import type { PluginCatalog } from '../../core/plugin-host/index.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const DEFAULT_MACHINE = join(ROOT, 'config', 'machines', 'default.yaml');

export async function loadDefinition(file = DEFAULT_MACHINE): Promise<ResolvedHost> {
  return (await loadHostDefinition(file)).host;
}

/** Boots `definition` with the tree's plugins (or `catalog`), logging into memory. */
export async function bootHost(definition: ResolvedHost, options: { seed?: number; catalog?: PluginCatalog } = {}): Promise<{ host: Host; logs: MemoryLogSink }> {
  const logs = new MemoryLogSink();
  const catalog = options.catalog ?? treeCatalog;
  const host = await Host.boot(definition, {
    catalog,
    coreFeatures: await coreFeaturesOf(treeCatalog),
    logSink: logs.sink,
    logLevel: 'debug',
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
  return { host, logs };
}
