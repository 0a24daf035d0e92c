/** `xeno config check` and `xeno config schema`: validate a definition or guest file; emit the editor schema. */
import { extname, resolve } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { checkHostDefinition, composeHostJsonSchema, loadDomainFile } from '../../config/index.js';
import type { ConfigError } from '../../api/errors.js';
import { type PluginCatalog } from '../../plugin-host/index.js';

export interface CheckOutcome {
  ok: boolean;
  text: string;
}

/**
 * Checks one file: an xl.cfg guest (`.cfg`, or any file with `asDomain`), a YAML guest with
 * `asDomain`, or a host definition (which checks the guests it names too). Lists every error and warning.
 */
export async function checkConfigFile(file: string, options: { cwd: string; asDomain?: boolean }): Promise<CheckOutcome> {
  const path = resolve(options.cwd, file);
  const asDomain = options.asDomain ?? extname(path) === '.cfg';
  let errors: readonly ConfigError[];
  let warnings: readonly ConfigError[];
  let summary: string;
  if (asDomain) {
    const r = loadDomainFile(path, file);
    errors = r.errors;
    warnings = r.warnings;
    summary = r.domain ? `guest "${r.domain.name}" (${r.domain.type}, ${r.domain.memoryBytes / 2 ** 20} MiB, ${r.domain.vcpus} vCPU)` : '';
  } else {
    const r = await checkHostDefinition(path);
    errors = r.errors;
    warnings = r.warnings;
    summary = r.host ? `host "${r.host.name}": ${r.host.cpus.count} CPUs, ${r.host.memoryBytes / 2 ** 30} GiB, ${r.host.plugins.length} plugins, ${r.host.domains.length} guests` : '';
  }
  const lines = [...errors.map((e) => `error: ${e.message}`), ...warnings.map((w) => `warning: ${w.message}`)];
  if (errors.length === 0) lines.push(`${file}: OK, ${summary}`);
  else lines.push(`${file}: ${errors.length} error${errors.length === 1 ? '' : 's'}`);
  return { ok: errors.length === 0, text: lines.join('\n') + '\n' };
}

/** The host-definition JSON Schema, with each plugin of the build checking its own options. */
export async function hostJsonSchema(catalog: PluginCatalog): Promise<Record<string, unknown>> {
  const schemas: Record<string, TSchema> = {};
  for (const name of catalog.names()) {
    const manifest = (await catalog.load(name)) as { configSchema?: TSchema };
    if (manifest.configSchema) schemas[name] = manifest.configSchema;
  }
  return composeHostJsonSchema(schemas);
}
