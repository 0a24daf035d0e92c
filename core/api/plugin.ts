/** The plugin contract: a manifest made by `definePlugin`, a context handed to `register()`, and lifecycle hooks. */
import 'reflect-metadata';
import type { DependencyContainer, InjectionToken } from 'tsyringe';
import { Kind, Type, type Static, type TSchema } from '@sinclair/typebox';
import type { Logger } from './log.js';

/** What a plugin contributes. Each kind has a contract in core/api that its providers implement. */
export const PLUGIN_KINDS = ['guest-mode', 'guest-kernel', 'device-model', 'backend', 'dom0-service', 'scheduler', 'guest-driver', 'workload'] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];

/** The version of the plugin SDK this core implements; a manifest's `engine` range must accept it. */
export const CORE_API_VERSION = '0.1.0';

/** Lifecycle hooks a plugin may return from `register()`. Both run in isolation from other plugins. */
export interface PluginInstance {
  /** Second phase, after every enabled plugin has registered: start work, open sockets. */
  start?(): void | Promise<void>;
  /** Runs in reverse start order when the host shuts down or the plugin is unloaded. */
  dispose?(): void | Promise<void>;
}

/** What `register()` receives. Everything a plugin touches comes through here. */
export interface PluginContext<Options = unknown> {
  /** The plugin's name, as in its manifest. */
  readonly name: string;
  /** The plugin's options from the configuration, already validated against its `configSchema`. */
  readonly options: Options;
  /** A logger whose source is `plugin <name>`. */
  readonly log: Logger;
  /** The host's container: resolve core services from it with their tokens. */
  readonly container: DependencyContainer;
  /**
   * Contributes `value` as one provider of `token`. Many plugins may provide the same token; the core
   * resolves them together with {@link PluginContext.resolveAll}. A plugin that fails has its
   * contributions withdrawn.
   */
  provide<T>(token: InjectionToken<T>, value: T): void;
  /** Resolves a single service (a core service or a token one plugin provided). */
  resolve<T>(token: InjectionToken<T>): T;
  /** Every provider of `token`, in plugin start order. */
  resolveAll<T>(token: InjectionToken<T>): T[];
  /** True when `feature` is enabled in this host (by the core or an enabled plugin). */
  hasFeature(feature: string): boolean;
  /** Runs `fn` when the plugin is disposed, before hooks registered earlier (LIFO). */
  onDispose(fn: () => void | Promise<void>): void;
}

/** One option of a plugin command, in commander's syntax. */
export interface PluginCommandOption {
  /** E.g. `--socket <path>` (takes a value) or `--access-log` (a switch). */
  flags: string;
  description: string;
  /** Value when the option is not given. */
  defaultValue?: string | boolean;
}

/** What a plugin command's `run` gets besides its options. */
export interface PluginCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** The folder relative paths are resolved against. */
  readonly cwd: string;
  /** Aborted on SIGINT/SIGTERM (or by the embedding code): a long-running command then ends. */
  readonly signal: AbortSignal;
}

/** A subcommand of `xeno` a plugin contributes (e.g. `xeno xenstored`): it runs without a simulated host. */
export interface PluginCommand {
  /** The subcommand's name: lower-case words joined by dashes, not one of the core's. */
  name: string;
  /** One line for `xeno --help`. */
  description: string;
  options: PluginCommandOption[];
  /** Runs the command with its parsed options (commander's camel-cased keys); resolves to the exit code. */
  run(args: Record<string, unknown>, io: PluginCommandIo): Promise<number>;
}

/** A plugin's manifest. Make it with {@link definePlugin}, export it as the default of its `index.ts`. */
export interface PluginManifest<S extends TSchema = TSchema> {
  /** Unique name, lower-case with dashes: `credit`, `xenstored`, `blkback`. */
  name: string;
  /** The plugin's own version (semver). */
  version: string;
  kind: PluginKind;
  /** Semver range of {@link CORE_API_VERSION} this plugin works with, e.g. `^0.1.0`. */
  engine: string;
  /** One line for `xeno plugins`. */
  description?: string;
  /** Features that must be enabled for this plugin to load (provided by the core or another plugin). */
  requires?: string[];
  /** Features this plugin provides when enabled, e.g. `SCHED_CREDIT`. */
  provides?: string[];
  /** Plugins that must register and start before this one. */
  dependencies?: string[];
  /** TypeBox schema of the plugin's options (plain JSON Schema is refused); unknown keys are rejected. It is the options' documentation. */
  configSchema: S;
  /** Subcommands of `xeno` this plugin contributes. */
  commands?: PluginCommand[];
  /** First phase: contribute providers. May return lifecycle hooks. */
  register(ctx: PluginContext<Static<S>>): void | PluginInstance | Promise<void | PluginInstance>;
}

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/**
 * Declares a plugin. Checks the manifest's shape at once so a malformed plugin fails where it is
 * written; the plugin host checks it again (a package may not have used this helper).
 */
export function definePlugin<S extends TSchema>(manifest: PluginManifest<S>): PluginManifest<S> {
  const problems = manifestProblems(manifest);
  if (problems.length > 0) throw new Error(`invalid plugin manifest${typeof manifest?.name === 'string' ? ` "${manifest.name}"` : ''}: ${problems.join('; ')}`);
  return Object.freeze(manifest);
}

/** Everything wrong with a value that claims to be a manifest; empty when it is one. */
export function manifestProblems(value: unknown): string[] {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null) return ['not an object'];
  const m = value as Record<string, unknown>;
  if (typeof m.name !== 'string' || !NAME.test(m.name)) problems.push('name must be lower-case words joined by dashes');
  if (typeof m.version !== 'string' || !SEMVER.test(m.version)) problems.push('version must be a semver version');
  if (typeof m.kind !== 'string' || !(PLUGIN_KINDS as readonly string[]).includes(m.kind)) problems.push(`kind must be one of ${PLUGIN_KINDS.join(', ')}`);
  if (typeof m.engine !== 'string' || m.engine.trim() === '') problems.push('engine must be a semver range');
  for (const key of ['requires', 'provides', 'dependencies'] as const) {
    if (m[key] !== undefined && !(Array.isArray(m[key]) && (m[key] as unknown[]).every((x) => typeof x === 'string'))) problems.push(`${key} must be a list of names`);
  }
  if (typeof m.configSchema !== 'object' || m.configSchema === null || !(Kind in m.configSchema)) problems.push('configSchema must be a TypeBox schema (build it with Type from the SDK)');
  if (typeof m.register !== 'function') problems.push('register must be a function');
  if (m.commands !== undefined) {
    const ok = Array.isArray(m.commands) && (m.commands as unknown[]).every((c) => {
      const cmd = c as Partial<PluginCommand> | null;
      return typeof cmd === 'object' && cmd !== null && typeof cmd.name === 'string' && NAME.test(cmd.name) && typeof cmd.run === 'function' && Array.isArray(cmd.options);
    });
    if (!ok) problems.push('commands must be a list of { name, description, options, run }');
  }
  return problems;
}

/** TypeBox, re-exported so plugin authors write schemas without another dependency. */
export { Type, type Static, type TSchema };
/** TypeBox's value checks (`Value.Check`, `Value.Default`), for a plugin's persist records and messages. */
export { Value } from '@sinclair/typebox/value';
/**
 * tsyringe's two decorators a plugin may use, re-exported so a plugin imports the SDK only (and shares
 * the host's tsyringe). `@injectable()` registers nothing; put `@inject(Token)` on every constructor parameter.
 */
export { inject, injectable } from 'tsyringe';
export type { DependencyContainer, InjectionToken };
/** The schema of a plugin with no options. */
export const NoOptions = Type.Object({}, { additionalProperties: false });
