/** Turns configured plugin entries into checked plugins: manifest, engine range and options each, then features, dependencies and order together. */
import { createRequire } from 'node:module';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import semver from 'semver';
import { ConfigError, type ErrorLocation, type XenoError } from '../api/errors.js';
import { CORE_API_VERSION, manifestProblems, type PluginManifest } from '../api/plugin.js';
import { manifestFromModule, type PluginCatalog } from './catalog.js';
import { startOrder } from './order.js';
import { didYouMean } from '../config/suggest.js';
import { checkSchema, joinPath } from './validate.js';

/**
 * One enabled plugin as the configuration names it: by `name` (from the build's catalog) or by npm
 * `package` (resolved from the configuration file's folder), with its options and where it was written.
 */
export interface PluginEntry {
  /** An in-tree plugin's name, e.g. `credit`. */
  name?: string;
  /** An npm package whose default (or `plugin`) export is a manifest, e.g. `xeno-plugin-hello`. */
  package?: string;
  /** The plugin's options, checked against its `configSchema`. */
  options?: unknown;
  /** Where the entry is: `{ file: 'config/machines/lab.yaml', path: 'plugins[2]' }`. */
  where?: ErrorLocation;
}

/** A plugin whose manifest, engine range and options passed. */
export interface LoadedPlugin {
  readonly name: string;
  readonly manifest: PluginManifest;
  /** Options with defaults applied. */
  readonly options: unknown;
  readonly source: string;
  readonly where: ErrorLocation;
}

/** A plugin that could not be loaded, with what the host knows of it. */
export interface LoadFailure {
  readonly name: string;
  readonly source: string;
  readonly status: 'failed' | 'not-in-build';
  /** Every problem found, each naming the plugin and its place in the configuration. */
  readonly errors: XenoError[];
  readonly manifest?: Partial<PluginManifest>;
}

/** A loaded plugin, or why it could not be loaded. */
export type LoadOutcome = { ok: true; plugin: LoadedPlugin } | { ok: false; failure: LoadFailure };

/** What loading needs to know of its surroundings. */
export interface LoadEnvironment {
  catalog: PluginCatalog;
  /** Folder relative paths in `where.file` are resolved against; packages of entries without a file resolve from here. */
  cwd: string;
  /** The API version manifests' `engine` ranges are checked against (tests vary it). */
  apiVersion?: string;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function fail(name: string, source: string, error: XenoError | XenoError[], status: LoadFailure['status'] = 'failed', manifest?: Partial<PluginManifest>): LoadOutcome {
  const errors = Array.isArray(error) ? error : [error];
  return { ok: false, failure: { name, source, status, errors, ...(manifest ? { manifest } : {}) } };
}

/** Finds an entry's manifest: in the catalog or in an npm package. */
async function findManifest(entry: PluginEntry, env: LoadEnvironment, where: ErrorLocation): Promise<{ manifest: unknown; label: string; source: string } | LoadOutcome> {
  const { catalog } = env;
  if ((entry.name === undefined) === (entry.package === undefined)) {
    return fail(entry.name ?? entry.package ?? '(unnamed)', 'config', new ConfigError('a plugin entry needs exactly one of "name" or "package"', where));
  }
  if (entry.name !== undefined) {
    const name = entry.name;
    const source = catalog.source?.(name) ?? `build ${catalog.buildName}`;
    if (!catalog.has(name)) {
      const tree = catalog.treeNames?.() ?? [];
      if (tree.includes(name)) return fail(name, name, new ConfigError(`plugin "${name}" is not in build "${catalog.buildName}"`, where), 'not-in-build');
      return fail(name, 'config', new ConfigError(`unknown plugin "${name}"${didYouMean(name, [...catalog.names(), ...tree])}`, where));
    }
    try {
      return { manifest: await catalog.load(name), label: name, source };
    } catch (error) {
      return fail(name, source, new ConfigError(`plugin "${name}" could not be loaded: ${message(error)}`, where, { cause: error }));
    }
  }
  const pkg = entry.package as string;
  const source = `package ${pkg}`;
  const from = where.file !== undefined ? resolvePath(env.cwd, where.file) : join(env.cwd, 'package.json');
  let file: string;
  try {
    file = createRequire(from).resolve(pkg);
  } catch (error) {
    return fail(pkg, source, new ConfigError(`cannot find package "${pkg}" from ${dirname(from)}`, where, { cause: error }));
  }
  try {
    return { manifest: manifestFromModule(await import(pathToFileURL(file).href)), label: pkg, source };
  } catch (error) {
    return fail(pkg, source, new ConfigError(`package "${pkg}" could not be imported: ${message(error)}`, where, { cause: error }));
  }
}

/** Loads and checks one entry on its own: manifest shape, name, engine range and options. */
export async function loadEntry(entry: PluginEntry, env: LoadEnvironment): Promise<LoadOutcome> {
  const where: ErrorLocation = { ...entry.where };
  const found = await findManifest(entry, env, where);
  if ('ok' in found) return found;
  const { manifest: raw, label, source } = found;

  const problems = manifestProblems(raw);
  const rawName = (raw as { name?: unknown } | null)?.name;
  const name = typeof rawName === 'string' && rawName !== '' ? rawName : label;
  const at: ErrorLocation = { ...where, plugin: name };
  if (problems.length > 0) return fail(name, source, new ConfigError(`invalid plugin manifest: ${problems.join('; ')}`, at));
  const manifest = raw as PluginManifest;
  if (entry.name !== undefined && manifest.name !== entry.name) {
    return fail(name, source, new ConfigError(`the catalog entry "${entry.name}" holds a manifest named "${manifest.name}"`, at), 'failed', manifest);
  }

  const apiVersion = env.apiVersion ?? CORE_API_VERSION;
  if (semver.validRange(manifest.engine) === null) {
    return fail(name, source, new ConfigError(`engine "${manifest.engine}" is not a semver range`, at), 'failed', manifest);
  }
  if (!semver.satisfies(apiVersion, manifest.engine, { includePrerelease: true })) {
    return fail(name, source, new ConfigError(`plugin "${name}" needs core API ${manifest.engine}, but this core's API is ${apiVersion}`, at), 'failed', manifest);
  }

  const basePath = joinPath(where.path ?? '', 'options');
  const checked = checkSchema(manifest.configSchema, entry.options ?? {}, { ...(where.file !== undefined ? { file: where.file } : {}), basePath, plugin: name }, true);
  if (checked.errors.length > 0) return fail(name, source, checked.errors, 'failed', manifest);
  return { ok: true, plugin: { name, manifest, options: checked.value, source, where } };
}

/** The result of checking the loaded plugins together. */
export interface SetCheck {
  /** Plugins in start order (empty when there is a cycle). */
  order: LoadedPlugin[];
  /** Problems per plugin name. */
  problems: Map<string, XenoError[]>;
}

/**
 * Checks the plugins as a set: duplicates, required features (enabled by the core or by an enabled
 * plugin's `provides`), dependencies that are not enabled, and dependency cycles.
 */
export function checkSet(plugins: readonly LoadedPlugin[], coreFeatures: ReadonlySet<string>): SetCheck {
  const problems = new Map<string, XenoError[]>();
  const report = (name: string, error: XenoError): void => {
    problems.set(name, [...(problems.get(name) ?? []), error]);
  };
  const byName = new Map<string, LoadedPlugin>();
  for (const p of plugins) {
    const first = byName.get(p.name);
    if (first !== undefined) {
      report(p.name, new ConfigError(`plugin "${p.name}" is enabled twice (first at ${first.where.path ?? 'an earlier entry'})`, { ...p.where, plugin: p.name }));
    } else byName.set(p.name, p);
  }
  const features = new Set(coreFeatures);
  for (const p of byName.values()) for (const f of p.manifest.provides ?? []) features.add(f);

  for (const p of byName.values()) {
    const at = { ...p.where, plugin: p.name };
    for (const f of (p.manifest.requires ?? []).filter((f) => !features.has(f))) {
      report(p.name, new ConfigError(`plugin "${p.name}" requires feature ${f}, which neither the core nor an enabled plugin provides`, at));
    }
    for (const d of (p.manifest.dependencies ?? []).filter((d) => !byName.has(d))) {
      report(p.name, new ConfigError(`plugin "${p.name}" depends on plugin "${d}", which is not enabled`, at));
    }
  }

  const ordered = startOrder([...byName.values()].map((p) => ({ name: p.name, dependencies: p.manifest.dependencies ?? [] })));
  if (!ordered.ok) {
    const head = byName.get(ordered.cycle[0] as string) as LoadedPlugin;
    const error = new ConfigError(`dependency cycle: ${ordered.cycle.join(' → ')}`, { ...head.where, plugin: head.name });
    for (const name of new Set(ordered.cycle)) report(name, error);
    return { order: [], problems };
  }
  return { order: ordered.order.map((n) => byName.get(n) as LoadedPlugin), problems };
}
