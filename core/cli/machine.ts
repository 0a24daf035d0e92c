/** Finding, loading and booting a machine definition for the CLI's commands. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkHostDefinition, type ResolvedHost } from '../config/index.js';
import type { ConfigError } from '../api/errors.js';
import type { LogLevel, LogSink } from '../api/log.js';
import { featuresFile, isCoreFeature, loadFeatures, projectRoot, type PluginCatalog } from '../plugin-host/index.js';
import { Host } from '../host/host.js';

/** What every command gets from its caller: the build's catalog and where to write. */
export interface CliEnv {
  catalog: PluginCatalog;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Working directory for relative paths and the cosmiconfig search (default: process.cwd()). */
  cwd?: string;
}

/** The default machine when neither a path nor a cosmiconfig file in the working directory names one. */
export const DEFAULT_MACHINE = join('config', 'machines', 'default.yaml');

/**
 * Picks the machine definition: an explicit path; else a cosmiconfig file (`xeno.config.*`, `.xenorc*`)
 * in the working directory; else `config/machines/default.yaml` of the working directory or the project.
 */
export function locateMachine(given: string | undefined, cwd: string): string {
  if (given !== undefined) return resolve(cwd, given);
  const searchable = ['xeno.config.json', 'xeno.config.yaml', 'xeno.config.yml', 'xeno.config.js', 'xeno.config.mjs', '.xenorc', '.xenorc.json', '.xenorc.yaml', '.xenorc.yml'];
  if (searchable.some((f) => existsSync(join(cwd, f)))) return cwd;
  const local = join(cwd, DEFAULT_MACHINE);
  if (existsSync(local)) return local;
  return join(projectRoot(), DEFAULT_MACHINE);
}

/** Thrown when a definition has errors; carries them all. */
export class DefinitionErrors extends Error {
  constructor(
    readonly errors: readonly ConfigError[],
    readonly warnings: readonly ConfigError[],
  ) {
    super(errors.map((e) => e.message).join('\n'));
  }
}

/** Loads and checks a machine definition; throws {@link DefinitionErrors} listing every problem. */
export async function loadMachine(given: string | undefined, cwd: string): Promise<{ host: ResolvedHost; warnings: readonly ConfigError[] }> {
  const r = await checkHostDefinition(locateMachine(given, cwd));
  if (r.host === undefined || r.errors.length > 0) throw new DefinitionErrors(r.errors, r.warnings);
  return { host: r.host, warnings: r.warnings };
}

/** Features the core provides in this build: the bundle says so, or the tree's features file. */
export async function coreFeaturesOf(catalog: PluginCatalog): Promise<string[]> {
  const fromBuild = catalog.coreFeatures?.();
  if (fromBuild) return [...fromBuild];
  return (await loadFeatures(featuresFile(projectRoot()))).filter(isCoreFeature).map((f) => f.name);
}

/** Boots a host for a CLI command. */
export async function bootMachine(definition: ResolvedHost, env: CliEnv, options: { seed?: number; logSink?: LogSink; logLevel?: LogLevel; runDir?: string } = {}): Promise<Host> {
  return Host.boot(definition, {
    catalog: env.catalog,
    coreFeatures: await coreFeaturesOf(env.catalog),
    ...options,
  });
}
