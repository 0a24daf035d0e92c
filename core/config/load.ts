/** Finds and reads host definitions (cosmiconfig, module `xeno`) and guest files, keeping line numbers for every error. */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { cosmiconfig, defaultLoaders, type Loader } from 'cosmiconfig';
import { ConfigError, XenoError } from '../api/errors.js';
import { domainFromYaml, parseDomainXl, type DomainResult } from './domain.js';
import { resolveHostDefinition, type HostResult, type ResolvedHost } from './host.js';
import type { LineLookup } from './paths.js';
import { parseYamlSource } from './yaml-source.js';

/** Where cosmiconfig looks in a directory, in order. */
export const HOST_SEARCH_PLACES = ['xeno.config.json', 'xeno.config.yaml', 'xeno.config.yml', 'xeno.config.js', 'xeno.config.mjs', '.xenorc', '.xenorc.json', '.xenorc.yaml', '.xenorc.yml'];

/** Every error of a configuration, thrown at once. `message` lists them one per line. */
export class ConfigErrors extends XenoError {
  constructor(
    readonly errors: readonly ConfigError[],
    readonly warnings: readonly ConfigError[] = [],
  ) {
    super('config', `${errors.length} configuration error${errors.length === 1 ? '' : 's'}:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
  }
}

/** A path as messages show it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/**
 * Finds the host definition in a directory (see {@link HOST_SEARCH_PLACES}) or reads the given file,
 * validates it and loads the guests it names. Never throws for a bad configuration: the result
 * lists every error and warning.
 */
export async function checkHostDefinition(pathOrDir: string = process.cwd()): Promise<HostResult> {
  const sources = new Map<string, { lineOf: LineLookup; errors: ConfigError[] }>();
  const yamlLoader: Loader = (filepath, content) => {
    const src = parseYamlSource(content, displayPath(filepath));
    sources.set(filepath, { lineOf: src.lineOf, errors: src.errors });
    return src.errors.length > 0 ? {} : (src.value ?? null);
  };
  const explorer = cosmiconfig('xeno', {
    searchPlaces: HOST_SEARCH_PLACES,
    searchStrategy: 'none',
    ignoreEmptySearchPlaces: false,
    cache: false,
    loaders: { ...defaultLoaders, '.json': yamlLoader, '.yaml': yamlLoader, '.yml': yamlLoader, noExt: yamlLoader },
  });
  const abs = path.resolve(pathOrDir);
  let result;
  try {
    result = isDirectory(abs) ? await explorer.search(abs) : await explorer.load(abs);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message;
    return { errors: [new ConfigError(`cannot read the host definition: ${reason}`, { file: displayPath(abs) })], warnings: [] };
  }
  if (result === null) return { errors: [new ConfigError(`no host definition found (looked for ${HOST_SEARCH_PLACES.join(', ')})`, { file: displayPath(abs) })], warnings: [] };
  const file = displayPath(result.filepath);
  if (result.isEmpty === true) return { errors: [new ConfigError('the host definition is empty', { file })], warnings: [] };
  const src = sources.get(result.filepath);
  if (src !== undefined && src.errors.length > 0) return { errors: src.errors, warnings: [] };
  const isModule = /\.m?js$/.test(result.filepath);
  const config: unknown = isModule ? ((result.config as { default?: unknown } | null)?.default ?? result.config) : result.config;
  const dir = path.dirname(result.filepath);
  return resolveHostDefinition(config, {
    file,
    ...(src !== undefined ? { lineOf: src.lineOf } : {}),
    loadDomainFile: (rel) => loadDomainFile(path.resolve(dir, rel), rel),
  });
}

/** Like {@link checkHostDefinition}, but throws {@link ConfigErrors} listing every error. Returns the host and the warnings. */
export async function loadHostDefinition(pathOrDir?: string): Promise<{ host: ResolvedHost; warnings: ConfigError[] }> {
  const r = await checkHostDefinition(pathOrDir);
  if (r.host === undefined || r.errors.length > 0) throw new ConfigErrors(r.errors, r.warnings);
  return { host: r.host, warnings: r.warnings };
}

/** Reads one guest file: YAML (`.yaml`, `.yml`, `.json`) or xl.cfg (anything else). `asWritten` is how the host file named it. */
export function loadDomainFile(file: string, asWritten: string = file): DomainResult {
  const shown = displayPath(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    return { errors: [new ConfigError(`cannot read guest file "${asWritten}" (${shown}): ${reason}`)], warnings: [] };
  }
  if (/\.(ya?ml|json)$/i.test(file)) {
    const src = parseYamlSource(text, shown);
    if (src.errors.length > 0) return { errors: src.errors, warnings: [] };
    return domainFromYaml(src.value, { file: shown, lineOf: src.lineOf });
  }
  return parseDomainXl(text, shown);
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
