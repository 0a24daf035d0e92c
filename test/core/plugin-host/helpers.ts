/** Helpers for plugin-host tests: manifests built in place, a catalog of them, config locations. */
import { Type, type PluginContext, type PluginInstance, type PluginManifest } from '../../../core/api/index.js';
import { StaticCatalog } from '../../../core/plugin-host/catalog.js';
import type { PluginEntry } from '../../../core/plugin-host/loader.js';

/** A valid manifest named `name`, with `extra` on top (which may make it invalid on purpose). */
export function manifest(name: string, extra: Partial<Record<keyof PluginManifest, unknown>> = {}): PluginManifest {
  return {
    name,
    version: '1.0.0',
    kind: 'device-model',
    engine: '^0.1.0',
    configSchema: Type.Object({}),
    register: () => undefined,
    ...extra,
  } as PluginManifest;
}

/** A plugin whose `register` runs `body` with its context. */
export function withRegister(name: string, body: (ctx: PluginContext) => void | PluginInstance | Promise<void | PluginInstance>, extra: Partial<Record<keyof PluginManifest, unknown>> = {}): PluginManifest {
  return manifest(name, { ...extra, register: body });
}

/** A static catalog of `manifests` for build `build`, whose source tree also has `tree`. */
export function catalogOf(manifests: readonly unknown[], tree: readonly string[] = [], build = 'test'): StaticCatalog {
  const entries = Object.fromEntries(manifests.map((m) => [(m as { name: string }).name, { manifest: m, source: `plugins/test/${(m as { name: string }).name}` }]));
  return new StaticCatalog(build, entries, { tree });
}

export const FILE = 'config/machines/lab.yaml';

/** Entries for `names`, each at `plugins[i]` of {@link FILE}. */
export function entries(...names: Array<string | { name: string; options: unknown }>): PluginEntry[] {
  return names.map((n, i) => ({ ...(typeof n === 'string' ? { name: n } : n), where: { file: FILE, path: `plugins[${i}]` } }));
}

/** The message of what `promise` rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { problems?: Array<{ message: string }> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}
