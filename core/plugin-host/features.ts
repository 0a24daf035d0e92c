/** Kconfig-style features from `config/features.yaml` (status, depends_on, selects, plugins) and the resolver that turns a build's request into features and plugins. */
import { readFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ErrorLocation } from '../api/errors.js';
import { didYouMean } from '../config/suggest.js';
import { checkSchema, combineErrors, joinPath } from './validate.js';

/** Support statuses, as in Xen's SUPPORT.md. `missing` means nothing implements the feature yet. */
export const FEATURE_STATUSES = ['supported', 'experimental', 'tech-preview', 'missing'] as const;
/** One of {@link FEATURE_STATUSES}. */
export type FeatureStatus = (typeof FEATURE_STATUSES)[number];

const FEATURE_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

/** The schema of one feature in `config/features.yaml`. */
export const FeatureSchema = Type.Object(
  {
    group: Type.String({ minLength: 1, description: 'Section of the SUPPORT table: Core, Guest modes, Dom0, ...' }),
    description: Type.String({ minLength: 1, description: 'One line: what the feature is.' }),
    status: Type.Union(
      FEATURE_STATUSES.map((s) => Type.Literal(s)),
      { description: 'supported | experimental | tech-preview | missing (nothing implements it yet).' },
    ),
    depends_on: Type.Optional(Type.Array(Type.String(), { description: 'Features that must also be enabled.' })),
    selects: Type.Optional(Type.Array(Type.String(), { description: 'Features enabling this one enables too.' })),
    plugins: Type.Optional(Type.Array(Type.String(), { description: 'Plugins that implement it; empty when the core does (or when missing).' })),
  },
  { additionalProperties: false },
);

/** The schema of `config/features.yaml`. */
export const FeaturesFileSchema = Type.Object({ features: Type.Record(Type.String(), FeatureSchema) }, { additionalProperties: false });

/** One declared feature, its lists filled in (empty when the file leaves them out). */
export interface FeatureDeclaration extends Required<Static<typeof FeatureSchema>> {
  name: string;
}

/** Parses and checks the text of a features file: schema, names, and that every reference is declared. */
export function parseFeatures(text: string, file: string): FeatureDeclaration[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`not valid YAML: ${error instanceof Error ? error.message : String(error)}`, { file });
  }
  const checked = checkSchema(FeaturesFileSchema, raw, { file });
  if (checked.errors.length > 0) throw combineErrors(checked.errors, { file });
  const decls = Object.entries((checked.value as Static<typeof FeaturesFileSchema>).features).map(([name, f]) => ({
    name,
    ...f,
    depends_on: f.depends_on ?? [],
    selects: f.selects ?? [],
    plugins: f.plugins ?? [],
  }));
  const names = decls.map((d) => d.name);
  const problems: string[] = [];
  for (const d of decls) {
    if (!FEATURE_NAME.test(d.name)) problems.push(`features.${d.name}: a feature name is upper-case words joined by underscores`);
    for (const key of ['depends_on', 'selects'] as const) {
      for (const ref of d[key]) if (!names.includes(ref)) problems.push(`${joinPath(`features.${d.name}`, key)}: unknown feature ${ref}${didYouMean(ref, names)}`);
    }
    if (d.status === 'missing' && d.plugins.length > 0) problems.push(`features.${d.name}: a missing feature lists no plugins (${d.plugins.join(', ')} would implement it)`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('; '), { file });
  return decls;
}

/** Reads and checks a features file. */
export async function loadFeatures(file: string): Promise<FeatureDeclaration[]> {
  return parseFeatures(await readFile(file, 'utf8'), file);
}

/** True when the core itself provides the feature (it exists and no plugin implements it). */
export function isCoreFeature(decl: FeatureDeclaration): boolean {
  return decl.status !== 'missing' && decl.plugins.length === 0;
}

/** What a build asks for. */
export interface FeatureRequest {
  /** The build's name, for messages. */
  build: string;
  features: readonly string[];
  /** Plugins the build names explicitly, beyond those its features bring. */
  plugins?: readonly string[];
  /** Where the request was written (the profile file), for messages. */
  where?: ErrorLocation;
}

/** The features and plugins a build enables, sorted. */
export interface ResolvedFeatures {
  build: string;
  features: string[];
  /** The enabled features the core provides itself (what the plugin host gets as `features`). */
  coreFeatures: string[];
  plugins: string[];
}

/**
 * Resolves a request: the `selects` closure of the requested features, then checks that none is
 * unknown or missing and that every `depends_on` is enabled. Throws one ConfigError naming every problem.
 */
export function resolveFeatures(decls: readonly FeatureDeclaration[], request: FeatureRequest): ResolvedFeatures {
  const byName = new Map(decls.map((d) => [d.name, d]));
  const problems: string[] = [];
  const why = new Map<string, string>();
  const queue: string[] = [];
  for (const name of request.features) {
    if (!byName.has(name)) problems.push(`unknown feature ${name}${didYouMean(name, byName.keys())}`);
    else if (!why.has(name)) {
      why.set(name, `build "${request.build}" asks for it`);
      queue.push(name);
    }
  }
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    for (const selected of byName.get(name)?.selects ?? []) {
      if (why.has(selected)) continue;
      why.set(selected, `${name} selects it`);
      queue.push(selected);
    }
  }
  const enabled = [...why.keys()].sort();
  for (const name of enabled) {
    const decl = byName.get(name) as FeatureDeclaration;
    if (decl.status === 'missing') problems.push(`feature ${name} is missing (nothing implements it yet), but ${why.get(name)}`);
    for (const dep of decl.depends_on) {
      if (!why.has(dep)) problems.push(`feature ${name} depends on ${dep}, which build "${request.build}" does not enable`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('; '), request.where ?? {});
  const plugins = new Set(request.plugins ?? []);
  for (const name of enabled) for (const p of byName.get(name)?.plugins ?? []) plugins.add(p);
  return {
    build: request.build,
    features: enabled,
    coreFeatures: enabled.filter((n) => isCoreFeature(byName.get(n) as FeatureDeclaration)),
    plugins: [...plugins].sort(),
  };
}
