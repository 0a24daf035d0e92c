/** One helper that checks a value against a TypeBox schema and says what is wrong in a user's words, with file, line and key path. */
import type { TSchema } from '@sinclair/typebox';
import { Kind } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { ConfigError } from '../api/errors.js';
import { describeValue } from './units.js';
import { didYouMean, formatPath, parsePath, type LineLookup, type PathSegment } from './paths.js';

/** Where the value being validated sits, so each error can name it. */
export interface ValidateOptions {
  /** The file the value came from, as users should see it (relative to the working directory). */
  file?: string;
  /** Key path of the value inside the file: `plugins[2].options` or its segments. */
  basePath?: string | readonly PathSegment[];
  /** The plugin whose schema this is, named in every error. */
  plugin?: string;
  /** Maps a full key path (basePath included) to its line in `file`. */
  lineOf?: LineLookup;
}

/**
 * A schema option read by {@link validate}: how to say what a value should look like
 * (`"a size like 512MiB"`). Put it on a schema node, e.g. `Type.String({ pattern, expected: '...' })`,
 * and any type, pattern or union error at that node reads `expected <it>, got <value>`.
 */
export const EXPECTED = 'expected';

interface Found {
  path: PathSegment[];
  detail: string;
}

/**
 * Checks `value` against `schema` and returns every problem as a {@link ConfigError}, each naming
 * `file:line › key.path (plugin name)`. Unknown keys are errors (when the schema says
 * `additionalProperties: false`), with a "did you mean" hint. Returns an empty list when the value is valid.
 */
export function validate(schema: TSchema, value: unknown, options: ValidateOptions = {}): ConfigError[] {
  const base = typeof options.basePath === 'string' ? parsePath(options.basePath) : [...(options.basePath ?? [])];
  const found: Found[] = [];
  collect(schema, value, [], found);
  const seen = new Set<string>();
  const errors: ConfigError[] = [];
  for (const f of found) {
    const full = [...base, ...f.path];
    const key = `${formatPath(full)}\u0000${f.detail}`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push(
      new ConfigError(f.detail, {
        ...(options.file !== undefined ? { file: options.file } : {}),
        ...lineOf(options.lineOf, full),
        path: formatPath(full),
        ...(options.plugin !== undefined ? { plugin: options.plugin } : {}),
      }),
    );
  }
  return errors;
}

/** The line of `path`, or of its nearest ancestor that has one (a missing key is reported on its parent). */
function lineOf(lookup: LineLookup | undefined, path: readonly PathSegment[]): { line?: number } {
  if (lookup === undefined) return {};
  for (let n = path.length; n >= 0; n--) {
    const line = lookup(path.slice(0, n));
    if (line !== undefined) return { line };
  }
  return {};
}

function collect(schema: TSchema, value: unknown, at: PathSegment[], out: Found[]): void {
  const pathsDone = new Set<string>();
  for (const e of Value.Errors(schema, value)) {
    const rel = pointerSegments(e.path, value);
    const path = [...at, ...rel];
    const id = formatPath(path);
    if (e.type === ValueErrorType.Union) {
      if (pathsDone.has(id)) continue;
      pathsDone.add(id);
      explainUnion(e, path, out);
      continue;
    }
    // A node's own type error hides the follow-on ones at the same path (minimum after type, etc.).
    if (pathsDone.has(id) && e.type !== ValueErrorType.ObjectAdditionalProperties) continue;
    if (e.type !== ValueErrorType.ObjectAdditionalProperties) pathsDone.add(id);
    out.push({ path, detail: explain(e) });
  }
}

function explain(e: ValueError): string {
  const s = e.schema as TSchema & Record<string, unknown>;
  const got = describeValue(e.value);
  switch (e.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const key = lastKey(e.path);
      const known = Object.keys((s.properties as Record<string, unknown> | undefined) ?? {});
      const hint = didYouMean(key, known);
      const list = hint === '' && known.length > 0 && known.length <= 12 ? ` (known keys: ${known.join(', ')})` : '';
      return `unknown key "${key}"${hint}${list}`;
    }
    case ValueErrorType.ObjectRequiredProperty:
      return `missing required key "${lastKey(e.path)}"`;
    case ValueErrorType.Literal:
      return `expected ${JSON.stringify(s.const)}, got ${got}`;
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be at least ${String(s.minimum)}, got ${got}`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be at most ${String(s.maximum)}, got ${got}`;
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerExclusiveMinimum:
      return `must be more than ${String(s.exclusiveMinimum)}, got ${got}`;
    case ValueErrorType.StringMinLength:
      return s.minLength === 1 ? 'must not be empty' : `must be at least ${String(s.minLength)} characters long`;
    case ValueErrorType.StringMaxLength:
      return `must be at most ${String(s.maxLength)} characters long`;
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${String(s.minItems)} entries`;
    case ValueErrorType.ArrayMaxItems:
      return `must have at most ${String(s.maxItems)} entries`;
    case ValueErrorType.ArrayUniqueItems:
      return 'entries must not repeat';
    default:
      break;
  }
  if (typeof s[EXPECTED] === 'string') return `expected ${s[EXPECTED]}, got ${got}`;
  switch (e.type) {
    case ValueErrorType.String:
      return `expected a string, got ${got}`;
    case ValueErrorType.Number:
      return `expected a number, got ${got}`;
    case ValueErrorType.Integer:
      return `expected a whole number, got ${got}`;
    case ValueErrorType.Boolean:
      return `expected boolean (true or false), got ${got}`;
    case ValueErrorType.Array:
      return `expected a list, got ${got}`;
    case ValueErrorType.Object:
      return `expected a map of keys, got ${got}`;
    case ValueErrorType.StringPattern:
      return `${got} does not match the pattern ${String(s.pattern)}`;
    default:
      return e.message.charAt(0).toLowerCase() + e.message.slice(1);
  }
}

/** What kind of JSON value a schema accepts, for matching a value to a union member. */
function kindOf(schema: TSchema): string | undefined {
  const k = (schema as unknown as Record<symbol, unknown>)[Kind];
  switch (k) {
    case 'String':
    case 'Number':
    case 'Boolean':
    case 'Object':
    case 'Array':
    case 'Null':
      return k.toLowerCase();
    case 'Integer':
      return 'number';
    case 'Literal':
      return typeof (schema as unknown as { const: unknown }).const;
    case 'Record':
      return 'object';
    default:
      return undefined;
  }
}

function kindOfValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Explains a union failure: an enum of literals by its choices, otherwise by the member that fits the value best. */
function explainUnion(e: ValueError, path: PathSegment[], out: Found[]): void {
  const s = e.schema as TSchema & { anyOf: TSchema[] } & Record<string, unknown>;
  const members = s.anyOf;
  const got = describeValue(e.value);
  const literals = members.every((m) => (m as unknown as Record<symbol, unknown>)[Kind] === 'Literal');
  if (literals) {
    const choices = members.map((m) => String((m as unknown as { const: unknown }).const));
    const hint = typeof e.value === 'string' ? didYouMean(e.value, choices) : '';
    out.push({ path, detail: `expected one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${got}${hint}` });
    return;
  }
  const sameKind = members.filter((m) => kindOf(m) === kindOfValue(e.value));
  const expected = typeof s[EXPECTED] === 'string' ? (s[EXPECTED] as string) : undefined;
  if (sameKind.length === 0) {
    const kinds = [...new Set(members.map((m) => kindOf(m) ?? 'value'))].map((k) => (k === 'object' ? 'map' : k === 'array' ? 'list' : k));
    out.push({ path, detail: `expected ${expected ?? kinds.join(' or ')}, got ${got}` });
    return;
  }
  const best = bestMember(sameKind, e.value);
  const sub: Found[] = [];
  collect(best, e.value, path, sub);
  for (const f of sub) {
    const samePath = formatPath(f.path) === formatPath(path);
    out.push(samePath && expected !== undefined && !f.detail.startsWith('unknown key') && !f.detail.startsWith('missing') ? { path, detail: `expected ${expected}, got ${got}` } : f);
  }
}

/** The member whose keys overlap the value's most, then the one with fewest errors. */
function bestMember(members: TSchema[], value: unknown): TSchema {
  let best = members[0]!;
  let bestScore = -Infinity;
  for (const m of members) {
    let score = 0;
    const props = (m as { properties?: Record<string, unknown> }).properties;
    if (props !== undefined && typeof value === 'object' && value !== null) {
      for (const k of Object.keys(value)) score += k in props ? 10 : -10;
      for (const r of (m as { required?: string[] }).required ?? []) if (!(r in value)) score -= 5;
    }
    score -= [...Value.Errors(m, value)].length;
    if (score > bestScore) {
      bestScore = score;
      best = m;
    }
  }
  return best;
}

function pointerSegments(pointer: string, root: unknown): PathSegment[] {
  if (pointer === '') return [];
  const out: PathSegment[] = [];
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur) && /^\d+$/.test(seg)) {
      out.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      out.push(seg);
      cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

function lastKey(pointer: string): string {
  const i = pointer.lastIndexOf('/');
  return pointer.slice(i + 1).replace(/~1/g, '/').replace(/~0/g, '~');
}
