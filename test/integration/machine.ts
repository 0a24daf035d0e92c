/** Helpers for tests that boot whole machines from config/. */
import { join } from 'node:path';
import { loadHostDefinition, type ResolvedHost } from '../../core/config/index.js';
import { Host } from '../../core/host/host.js';
import { coreFeaturesOf } from '../../core/cli/machine.js';
import { MemoryLogSink } from '../../core/api/log.js';
import { treeCatalog } from '../../plugins/catalog.js';
import type { PluginCatalog } from '../../core/plugin-host/index.js';
import { Consoles } from '../../core/api/console.js';
import { Toolstack } from '../../core/api/toolstack.js';
import { runUntil } from '../plugins/guest/generic/helpers.js';

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

/** A booted host's guests by name: their console logs and a shell to type into. */
export interface GuestConsoles {
  domid(name: string): number;
  log(name: string): string;
  /** Types `line` and runs the host until `expect` shows after it (within `limitNs` of virtual time); returns what came. */
  shell(name: string, line: string, expect?: string, limitNs?: number): string;
}

export function guestConsoles(host: Host): GuestConsoles {
  const toolstack = host.plugins.resolveAll(Toolstack)[0]!;
  const consoles = host.plugins.resolveAll(Consoles)[0]!;
  const domid = (name: string): number => {
    const d = toolstack.find(name);
    if (d === undefined) throw new Error(`no domain ${name}`);
    return d.domid;
  };
  const log = (name: string): string => consoles.log(domid(name));
  return {
    domid,
    log,
    shell(name, line, expect = '# ', limitNs = 5e9) {
      const before = log(name).length;
      consoles.input(domid(name), `${line}\r`);
      const ok = runUntil(host, () => log(name).slice(before).includes(expect), limitNs);
      const out = log(name).slice(before);
      if (!ok) throw new Error(`${name}: no "${expect}" after "${line}": ${JSON.stringify(out.slice(-400))}`);
      return out;
    },
  };
}
