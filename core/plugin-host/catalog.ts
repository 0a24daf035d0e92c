/** Plugin catalogs: where the plugin host finds a plugin's manifest by name, in the source tree or in a build. */

/**
 * The plugins a build can load by name. The source tree has one (`plugins/catalog.ts`), and every
 * bundle built from a profile has a static one holding only the plugins that profile chose.
 */
export interface PluginCatalog {
  /** The build this catalog belongs to: `tree` when running from source, else the profile's name. */
  readonly buildName: string;
  /** Names of the plugins this catalog can load, sorted. */
  names(): string[];
  has(name: string): boolean;
  /** The plugin's manifest (unchecked: the host checks it). Rejects when the name is not in the catalog. */
  load(name: string): Promise<unknown>;
  /** Where the plugin's source lives, e.g. `plugins/schedulers/credit`. */
  source?(name: string): string | undefined;
  /**
   * Every plugin of the source tree, including those this build left out, so that the host can tell
   * "not in this build" from "no such plugin".
   */
  treeNames?(): string[];
  /** Features this build enables in the core (`X86_64`, `HAP`, ...); absent when running from source, where all are. */
  coreFeatures?(): string[];
}

/** One in-tree plugin: its folder (relative to the repository) and a lazy import of its `index.ts`. */
export interface InTreePlugin {
  /** Folder relative to the repository root, e.g. `plugins/schedulers/credit`. */
  readonly folder: string;
  /** Imports the plugin's `index.js`; only called when the plugin is enabled. */
  readonly load: () => Promise<unknown>;
}

/** The manifest a plugin module exports: its default export, else its `plugin` export. */
export function manifestFromModule(mod: unknown): unknown {
  if (typeof mod !== 'object' || mod === null) return mod;
  const m = mod as { default?: unknown; plugin?: unknown };
  if (m.default !== undefined) {
    // A CommonJS module imported from ESM puts its whole `module.exports` under `default`.
    const inner = m.default as { default?: unknown; plugin?: unknown } | null;
    if (typeof inner === 'object' && inner !== null && !('register' in inner) && (inner.default ?? inner.plugin) !== undefined) return inner.default ?? inner.plugin;
    return m.default;
  }
  return m.plugin;
}

function notInCatalog(catalog: PluginCatalog, name: string): Error {
  return new Error(`plugin "${name}" is not in build "${catalog.buildName}"`);
}

/** A catalog of lazily imported modules: the source tree's. */
export class LazyCatalog implements PluginCatalog {
  private readonly entries: ReadonlyMap<string, InTreePlugin>;

  constructor(
    readonly buildName: string,
    entries: Readonly<Record<string, InTreePlugin>>,
  ) {
    this.entries = new Map(Object.entries(entries));
  }

  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  async load(name: string): Promise<unknown> {
    const entry = this.entries.get(name);
    if (entry === undefined) throw notInCatalog(this, name);
    return manifestFromModule(await entry.load());
  }

  source(name: string): string | undefined {
    return this.entries.get(name)?.folder;
  }

  /** The folder and loader of one plugin (the bundler uses the folder). */
  entry(name: string): InTreePlugin | undefined {
    return this.entries.get(name);
  }
}

/** One plugin of a static catalog: its manifest, already imported, and where its source came from. */
export interface StaticCatalogEntry {
  readonly manifest: unknown;
  readonly source?: string;
}

/** What a static catalog knows of the build beyond its plugins. */
export interface StaticCatalogExtras {
  /** Every plugin of the source tree the build was made from (for "not in build" errors). */
  tree?: readonly string[];
  /** Features the build enables in the core. */
  coreFeatures?: readonly string[];
}

/** A catalog whose manifests were imported statically: what a bundle's entry module builds. */
export class StaticCatalog implements PluginCatalog {
  private readonly entries: ReadonlyMap<string, StaticCatalogEntry>;
  private readonly tree: readonly string[];
  /** Features the build enables in the core, when it says. */
  readonly coreFeatures?: () => string[];

  constructor(
    readonly buildName: string,
    entries: Readonly<Record<string, StaticCatalogEntry>>,
    more: StaticCatalogExtras = {},
  ) {
    this.entries = new Map(Object.entries(entries));
    this.tree = [...new Set([...(more.tree ?? []), ...this.entries.keys()])].sort();
    const features = more.coreFeatures ? [...more.coreFeatures].sort() : undefined;
    if (features) this.coreFeatures = () => [...features];
  }

  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  async load(name: string): Promise<unknown> {
    const entry = this.entries.get(name);
    if (entry === undefined) throw notInCatalog(this, name);
    return entry.manifest;
  }

  source(name: string): string | undefined {
    return this.entries.get(name)?.source;
  }

  treeNames(): string[] {
    return [...this.tree];
  }
}

/**
 * A view of `catalog` that holds only `names`: running from source as if from the build `buildName`
 * (what `--build minimal` does without bundling). Names `catalog` does not hold are ignored.
 */
export function restrictCatalog(catalog: PluginCatalog, buildName: string, names: Iterable<string>, coreFeatures?: readonly string[]): PluginCatalog {
  const kept = new Set([...names].filter((n) => catalog.has(n)));
  const tree = [...new Set([...catalog.names(), ...(catalog.treeNames?.() ?? [])])].sort();
  return {
    buildName,
    names: () => [...kept].sort(),
    has: (name) => kept.has(name),
    load: async (name) => {
      if (!kept.has(name)) throw new Error(`plugin "${name}" is not in build "${buildName}"`);
      return catalog.load(name);
    },
    source: (name) => (kept.has(name) ? catalog.source?.(name) : undefined),
    treeNames: () => [...tree],
    ...(coreFeatures ? { coreFeatures: () => [...coreFeatures].sort() } : {}),
  };
}
