/** Checks a value against a TypeBox schema with core/config's validator, defaults applied; plugin options strictly (unknown keys refused). */
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError, type ErrorLocation } from '../api/errors.js';
import { validate, type ValidateOptions } from '../config/validate.js';

/** The value with defaults applied, and every problem (empty when it is valid). */
export interface SchemaResult {
  value: unknown;
  errors: ConfigError[];
}

/** `joinPath('plugins[2]', 'options')` is `plugins[2].options`; `joinPath('', 'a')` is `a`. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** A copy of `schema` in which every object schema without `additionalProperties` refuses unknown keys. */
export function strictSchema<S extends TSchema>(schema: S): S {
  const s = schema as TSchema & { type?: unknown; properties?: Record<string, TSchema>; additionalProperties?: unknown; items?: unknown; anyOf?: TSchema[]; allOf?: TSchema[] };
  const out: Record<string | symbol, unknown> = { ...s };
  if (s.type === 'object' && s.properties !== undefined) {
    if (s.additionalProperties === undefined) out.additionalProperties = false;
    out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, strictSchema(v)]));
  }
  if (typeof s.items === 'object' && s.items !== null && !Array.isArray(s.items)) out.items = strictSchema(s.items as TSchema);
  if (Array.isArray(s.anyOf)) out.anyOf = s.anyOf.map((m) => strictSchema(m));
  if (Array.isArray(s.allOf)) out.allOf = s.allOf.map((m) => strictSchema(m));
  return out as S;
}

/** Applies `schema`'s defaults to a copy of `input`, then validates it; `input` is not changed. */
export function checkSchema(schema: TSchema, input: unknown, where: ValidateOptions = {}, strict = false): SchemaResult {
  const value = Value.Default(schema, Value.Clone(input));
  return { value, errors: validate(strict ? strictSchema(schema) : schema, value, where) };
}

/** One error for a list of them: the error itself when there is one, else their lines under `where`. */
export function combineErrors(errors: readonly ConfigError[], where: ErrorLocation): ConfigError {
  if (errors.length === 1) return errors[0] as ConfigError;
  return new ConfigError(`${errors.length} problems:\n${errors.map((e) => `  - ${e.message}`).join('\n')}`, where);
}
