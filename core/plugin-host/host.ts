/** The plugin host: loads the enabled plugins, registers and starts each in isolation, and disposes them in reverse. */
import { container as rootContainer, type DependencyContainer, type InjectionToken } from 'tsyringe';
import { EventEmitter } from 'eventemitter3';
import { PluginError, XenoError } from '../api/errors.js';
import type { Logger } from '../api/log.js';
import { manifestProblems, type PluginContext, type PluginInstance, type PluginManifest } from '../api/plugin.js';
import type { PluginCatalog } from './catalog.js';
import { ContributionRegistry, tokenName } from './contributions.js';
import { checkSet, loadEntry, type LoadedPlugin, type PluginEntry } from './loader.js';
import type { PluginHostEvents, PluginStatus, PluginStatusInfo } from './status.js';

/** What the host is built from. Only `catalog` is required. */
export interface PluginHostOptions {
  /** The build's plugins, loadable by name. */
  catalog: PluginCatalog;
  /** The host's container; `ctx.resolve` falls back to it. Defaults to a child of tsyringe's root container. */
  container?: DependencyContainer;
  /** Features the core enables in this build (`X86_64`, `HAP`, ...); plugins add their `provides`. */
  features?: Iterable<string>;
  /** Makes the logger for a source (`plugin credit`, `plugin-host`). Defaults to a silent logger. */
  logger?: (source: string) => Logger;
  /** Folder relative configuration paths are resolved against. Defaults to `process.cwd()`. */
  cwd?: string;
  /** The core API version engine ranges are checked against; defaults to `CORE_API_VERSION`. */
  apiVersion?: string;
}

/** Everything wrong with the configured plugins, found before any of them ran. */
export class PluginLoadError extends XenoError {
  constructor(readonly problems: readonly XenoError[]) {
    super('plugins', problems.length === 1 ? (problems[0] as XenoError).detail : `${problems.length} problems with the configured plugins:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`, problems.length === 1 ? (problems[0] as XenoError).where : {});
  }
}

/** A dispose hook that threw. */
export interface DisposeProblem {
  plugin: string;
  error: PluginError;
}

interface Row {
  name: string;
  source: string;
  status: PluginStatus;
  manifest?: Partial<PluginManifest>;
  error?: string;
}

interface Running {
  readonly plugin: LoadedPlugin;
  readonly order: number;
  instance?: PluginInstance;
  readonly disposers: Array<() => void | Promise<void>>;
  registered: boolean;
  tornDown: boolean;
}

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => SILENT };

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Loads, starts and disposes the plugins a configuration enables. One host per simulated machine. */
export class PluginHost {
  /** Status changes and dispose errors. */
  readonly events = new EventEmitter<PluginHostEvents>();
  /** What plugins provided with `ctx.provide`. */
  readonly contributions = new ContributionRegistry();
  readonly container: DependencyContainer;
  private readonly catalog: PluginCatalog;
  private readonly coreFeatures: ReadonlySet<string>;
  private readonly logFor: (source: string) => Logger;
  private readonly log: Logger;
  private readonly rows = new Map<string, Row>();
  private running: Running[] = [];
  private state: 'new' | 'loaded' | 'refused' | 'registered' | 'started' | 'disposed' = 'new';

  constructor(private readonly options: PluginHostOptions) {
    this.catalog = options.catalog;
    this.container = options.container ?? rootContainer.createChildContainer();
    this.coreFeatures = new Set(options.features ?? []);
    this.logFor = options.logger ?? (() => SILENT);
    this.log = this.logFor('plugin-host');
    for (const name of this.catalog.names()) this.rows.set(name, { name, source: this.catalog.source?.(name) ?? `build ${this.catalog.buildName}`, status: 'available' });
    for (const name of this.catalog.treeNames?.() ?? []) {
      if (!this.rows.has(name)) this.rows.set(name, { name, source: name, status: 'not-in-build', error: `plugin "${name}" is not in build "${this.catalog.buildName}"` });
    }
  }

  /**
   * Loads and checks every entry (manifest, engine range, options, required features, dependencies,
   * order). Throws one {@link PluginLoadError} listing every problem; then nothing has run.
   */
  async load(entries: readonly PluginEntry[]): Promise<void> {
    if (this.state !== 'new') throw new Error(`plugin host: load() runs once, before start() (the host is ${this.state})`);
    this.state = 'loaded';
    const cwd = this.options.cwd ?? process.cwd();
    const problems: XenoError[] = [];
    const loaded: LoadedPlugin[] = [];
    for (const entry of entries) {
      const outcome = await loadEntry(entry, { catalog: this.catalog, cwd, ...(this.options.apiVersion ? { apiVersion: this.options.apiVersion } : {}) });
      if (outcome.ok) {
        loaded.push(outcome.plugin);
        this.setRow({ name: outcome.plugin.name, source: outcome.plugin.source, status: 'enabled', manifest: outcome.plugin.manifest });
      } else {
        const f = outcome.failure;
        problems.push(...f.errors);
        this.setRow({ name: f.name, source: f.source, status: f.status, ...(f.manifest ? { manifest: f.manifest } : {}), error: f.errors.map((e) => e.message).join('\n') });
      }
    }
    const checked = checkSet(loaded, this.coreFeatures);
    for (const [name, errors] of checked.problems) {
      for (const e of errors) if (!problems.includes(e)) problems.push(e);
      const row = this.rows.get(name);
      if (row) this.setRow({ ...row, status: 'failed', error: errors.map((e) => e.message).join('\n') });
    }
    if (problems.length > 0) {
      this.state = 'refused';
      throw new PluginLoadError(problems);
    }
    this.running = checked.order.map((plugin, order) => ({ plugin, order, disposers: [], registered: false, tornDown: false }));
  }

  /**
   * Phase 1: every plugin's `register(ctx)`, in start order. A plugin that throws or rejects is failed
   * and its contributions withdrawn; its dependants are skipped. The host runs this before it builds
   * what registrations feed (the CPU pool needs the scheduler a plugin registers).
   */
  async register(): Promise<void> {
    if (this.state !== 'loaded') throw new Error(`plugin host: register() runs once, after load() (the host is ${this.state})`);
    this.state = 'registered';
    for (const run of this.running) {
      if (await this.skipIfBlocked(run)) continue;
      try {
        const instance = await run.plugin.manifest.register(this.context(run));
        if (instance) run.instance = instance;
        run.registered = true;
      } catch (error) {
        await this.fail(run, 'register', error);
      }
    }
  }

  /**
   * Phase 2: every registered plugin's `start()`, in start order (running phase 1 first if it has not
   * run). Failures are contained as in phase 1. Returns the status of every enabled plugin.
   */
  async start(): Promise<PluginStatusInfo[]> {
    if (this.state === 'loaded') await this.register();
    if (this.state !== 'registered') throw new Error(`plugin host: start() runs once, after load() (the host is ${this.state})`);
    this.state = 'started';
    for (const run of this.running) {
      if (this.statusOf(run) !== 'enabled' || (await this.skipIfBlocked(run))) continue;
      try {
        await run.instance?.start?.();
        this.setStatus(run.plugin.name, 'started');
      } catch (error) {
        await this.fail(run, 'start', error);
      }
    }
    return this.running.map((r) => this.status(r.plugin.name) as PluginStatusInfo);
  }

  /** Loads then starts: the usual way to bring a configuration's plugins up. */
  async run(entries: readonly PluginEntry[]): Promise<PluginStatusInfo[]> {
    await this.load(entries);
    return this.start();
  }

  /**
   * Disposes every registered plugin in reverse start order: `dispose()` from its hooks, then its
   * `onDispose` callbacks, last first. A throwing hook is reported and the rest still run.
   */
  async dispose(): Promise<DisposeProblem[]> {
    if (this.state === 'disposed') return [];
    this.state = 'disposed';
    const problems: DisposeProblem[] = [];
    for (const run of [...this.running].reverse()) {
      if (run.tornDown || !run.registered) continue;
      problems.push(...(await this.teardown(run)));
      this.setStatus(run.plugin.name, 'stopped');
    }
    return problems;
  }

  /** True when `feature` is enabled by the core or by a plugin that is enabled and has not failed. */
  hasFeature(feature: string): boolean {
    if (this.coreFeatures.has(feature)) return true;
    return this.running.some((r) => this.isLive(r) && (r.plugin.manifest.provides ?? []).includes(feature));
  }

  /** Every provider of `token`, in start order. */
  resolveAll<T>(token: InjectionToken<T>): T[] {
    return this.contributions.resolveAll(token);
  }

  /** One plugin's row of `xeno plugins`. */
  status(name: string): PluginStatusInfo | undefined {
    const row = this.rows.get(name);
    if (row === undefined) return undefined;
    const m = row.manifest ?? {};
    return {
      name: row.name,
      ...(m.kind !== undefined ? { kind: m.kind } : {}),
      ...(m.version !== undefined ? { version: m.version } : {}),
      ...(m.description !== undefined ? { description: m.description } : {}),
      source: row.source,
      status: row.status,
      ...(row.error !== undefined ? { error: row.error } : {}),
    };
  }

  /** Every plugin the host knows (the build's, the tree's, the configured packages), sorted by name. */
  statuses(): PluginStatusInfo[] {
    return [...this.rows.keys()].sort().map((n) => this.status(n) as PluginStatusInfo);
  }

  /** Like {@link statuses}, with kind and version filled in for available plugins (imports their manifests). */
  async describe(): Promise<PluginStatusInfo[]> {
    for (const row of this.rows.values()) {
      if (row.manifest !== undefined || row.status !== 'available') continue;
      try {
        const manifest = await this.catalog.load(row.name);
        if (manifestProblems(manifest).length === 0) row.manifest = manifest as PluginManifest;
      } catch (error) {
        row.error = errorText(error);
      }
    }
    return this.statuses();
  }

  private statusOf(run: Running): PluginStatus {
    return this.rows.get(run.plugin.name)?.status ?? 'enabled';
  }

  private isLive(run: Running): boolean {
    const s = this.statusOf(run);
    return s === 'enabled' || s === 'started';
  }

  private setRow(row: Row): void {
    const before = this.rows.get(row.name)?.status;
    this.rows.set(row.name, row);
    if (before !== row.status) this.events.emit('status', { name: row.name, from: before, to: row.status, ...(row.error !== undefined ? { error: row.error } : {}) });
  }

  private setStatus(name: string, status: PluginStatus, error?: string): void {
    const row = this.rows.get(name);
    if (row === undefined) return;
    const next: Row = { ...row, status };
    if (error !== undefined) next.error = error;
    else delete next.error;
    this.setRow(next);
  }

  /** Why `run` cannot run now: a dependency failed or was skipped, or a required feature went with it. */
  private blocker(run: Running): string | undefined {
    for (const dep of run.plugin.manifest.dependencies ?? []) {
      const s = this.rows.get(dep)?.status;
      if (s === 'failed' || s === 'skipped') return `its dependency "${dep}" ${s === 'failed' ? 'failed' : 'was skipped'}`;
    }
    for (const feature of run.plugin.manifest.requires ?? []) {
      if (!this.hasFeature(feature)) return `the feature ${feature} it requires went with a plugin that failed`;
    }
    return undefined;
  }

  private async skipIfBlocked(run: Running): Promise<boolean> {
    const reason = this.blocker(run);
    if (reason === undefined) return false;
    const error = new PluginError(run.plugin.name, `not started: ${reason}`);
    this.log.warn(error.message);
    this.setStatus(run.plugin.name, 'skipped', error.message);
    await this.teardown(run);
    return true;
  }

  private async fail(run: Running, phase: 'register' | 'start', cause: unknown): Promise<void> {
    const error = new PluginError(run.plugin.name, `${phase} failed: ${errorText(cause)}`, { cause });
    this.log.error(error.message);
    this.setStatus(run.plugin.name, 'failed', error.message);
    await this.teardown(run);
  }

  /** Runs the plugin's dispose hooks (each in isolation) and withdraws its contributions. */
  private async teardown(run: Running): Promise<DisposeProblem[]> {
    if (run.tornDown) return [];
    run.tornDown = true;
    const problems: DisposeProblem[] = [];
    const hooks: Array<() => void | Promise<void>> = [];
    const instance = run.instance;
    if (instance?.dispose) hooks.push(() => instance.dispose?.());
    hooks.push(...[...run.disposers].reverse());
    for (const hook of hooks) {
      try {
        await hook();
      } catch (cause) {
        const error = new PluginError(run.plugin.name, `dispose failed: ${errorText(cause)}`, { cause });
        this.log.error(error.message);
        this.events.emit('disposeError', run.plugin.name, error);
        problems.push({ plugin: run.plugin.name, error });
      }
    }
    this.contributions.withdraw(run.plugin.name);
    return problems;
  }

  private context(run: Running): PluginContext {
    const { name } = run.plugin;
    const contributions = this.contributions;
    const container = this.container;
    return {
      name,
      options: run.plugin.options,
      log: this.logFor(`plugin ${name}`),
      container,
      provide: (token, value) => {
        if (run.tornDown) throw new PluginError(name, `cannot provide ${tokenName(token)}: the plugin is ${this.statusOf(run)}`);
        contributions.provide(name, run.order, token, value);
      },
      resolve: <T>(token: InjectionToken<T>): T => {
        const provided = contributions.resolveAll(token);
        if (provided.length === 1) return provided[0] as T;
        if (provided.length > 1) {
          throw new PluginError(name, `${tokenName(token)} has ${provided.length} providers (${contributions.providersOf(token).join(', ')}): use resolveAll`);
        }
        try {
          return container.resolve(token);
        } catch (cause) {
          throw new PluginError(name, `cannot resolve ${tokenName(token)}: no plugin provides it and the host container does not have it`, { cause });
        }
      },
      resolveAll: (token) => contributions.resolveAll(token),
      hasFeature: (feature) => this.hasFeature(feature),
      onDispose: (fn) => {
        run.disposers.push(fn);
      },
    };
  }
}
