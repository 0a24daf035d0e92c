/** The host definition's JSON Schema for editors, with each plugin's options checked against that plugin's own schema. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { makeHostSchema, PluginEntrySchema } from './host-schema.js';

/** Schema options that are ours, not JSON Schema: removed so strict validators accept the output. */
const PRIVATE_KEYWORDS = new Set(['expected']);

/** A TypeBox schema as plain JSON: symbols dropped, private keywords removed. */
export function toJsonSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema, (key, value: unknown) => (PRIVATE_KEYWORDS.has(key) ? undefined : value))) as Record<string, unknown>;
}

/**
 * The host definition's JSON Schema (draft 2019-09 keywords `if`/`then`, understood by VS Code's YAML
 * and JSON support). For every plugin in `pluginSchemas`, an entry `{ name: <it>, options }` has its
 * options checked against that plugin's configSchema.
 */
export function composeHostJsonSchema(pluginSchemas: Readonly<Record<string, TSchema>> = {}): Record<string, unknown> {
  const names = Object.keys(pluginSchemas).sort();
  const entry = toJsonSchema(PluginEntrySchema());
  if (names.length > 0) {
    entry.allOf = names.map((name) => ({
      if: { type: 'object', properties: { name: { const: name } }, required: ['name'] },
      then: { properties: { options: toJsonSchema(pluginSchemas[name]!) } },
    }));
  }
  const host = toJsonSchema(makeHostSchema());
  const plugins = (host.properties as Record<string, Record<string, unknown>>).plugins!;
  plugins.items = entry;
  return { $schema: 'https://json-schema.org/draft/2019-09/schema', $id: 'https://xenoserver.dev/schemas/host.json', title: 'xenoserver host definition', ...host };
}

/** Writes {@link composeHostJsonSchema}'s result to `file` (folders created), pretty-printed. */
export function writeHostJsonSchema(file: string, pluginSchemas: Readonly<Record<string, TSchema>> = {}): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(composeHostJsonSchema(pluginSchemas), null, 2)}\n`);
}
