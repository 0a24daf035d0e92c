/** Build profiles (`config/builds/<name>.yaml`): which features and plugins a build contains. */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../api/errors.js';
import { loadFeatures, resolveFeatures, type FeatureDeclaration, type ResolvedFeatures } from './features.js';
import { didYouMean } from '../config/suggest.js';
import { checkSchema, combineErrors } from './validate.js';

/** The schema of a build profile file. */
export const BuildProfileSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9-]*$', description: 'The profile name; the same as the file name.' }),
    description: Type.String({ minLength: 1, description: 'One line for `xeno build --list`.' }),
    features: Type.Array(Type.String(), { default: [], description: 'Features to enable (their `selects` come too).' }),
    plugins: Type.Array(Type.String(), { default: [], description: 'Plugins to include beyond those the features bring.' }),
  },
  { additionalProperties: false },
);

/** A build profile as read from its file. */
export interface BuildProfile extends Static<typeof BuildProfileSchema> {
  /** The file it was read from, relative to the project root. */
  file: string;
}

/** The folder holding this project's package.json, found by walking up from `from` (a file URL or path). */
export function projectRoot(from: string = import.meta.url): string {
  let dir = dirname(from.startsWith('file:') ? fileURLToPath(from) : from);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'xenoserver') return dir;
      } catch {
        // Not ours; keep walking.
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the xenoserver project root above ${from}`);
    dir = up;
  }
}

/** `config/features.yaml` of a project. */
export function featuresFile(root: string): string {
  return join(root, 'config', 'features.yaml');
}

/** The names of the profiles in `config/builds/`, sorted. */
export async function listBuildProfiles(root: string): Promise<string[]> {
  const files = await readdir(join(root, 'config', 'builds')).catch(() => [] as string[]);
  return files.filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();
}

/** Reads and checks `config/builds/<name>.yaml`. An unknown name lists the profiles that exist. */
export async function loadBuildProfile(name: string, root: string): Promise<BuildProfile> {
  const path = join(root, 'config', 'builds', `${name}.yaml`);
  const file = relative(root, path);
  if (!existsSync(path)) {
    const known = await listBuildProfiles(root);
    throw new ConfigError(`no build profile "${name}"${didYouMean(name, known)} (profiles: ${known.join(', ') || 'none'})`, { file });
  }
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`not valid YAML: ${error instanceof Error ? error.message : String(error)}`, { file });
  }
  const checked = checkSchema(BuildProfileSchema, raw, { file });
  if (checked.errors.length > 0) throw combineErrors(checked.errors, { file });
  const profile = checked.value as Static<typeof BuildProfileSchema>;
  if (profile.name !== name) throw new ConfigError(`the profile in ${name}.yaml is named "${profile.name}"; name it "${name}"`, { file, path: 'name' });
  return { ...profile, file };
}

/** A profile resolved against the feature declarations and the source tree's plugins. */
export interface ResolvedBuild extends ResolvedFeatures {
  profile: BuildProfile;
}

/**
 * Resolves a profile: its features' `selects` closure and `depends_on`, and the plugins they bring.
 * With `treeNames`, a plugin the tree does not have is an error with close matches.
 */
export async function resolveBuild(name: string, root: string, treeNames?: readonly string[], decls?: readonly FeatureDeclaration[]): Promise<ResolvedBuild> {
  const profile = await loadBuildProfile(name, root);
  const declarations = decls ?? (await loadFeatures(featuresFile(root)));
  const resolved = resolveFeatures(declarations, { build: profile.name, features: profile.features, plugins: profile.plugins, where: { file: profile.file } });
  if (treeNames !== undefined) {
    const unknown = resolved.plugins.filter((p) => !treeNames.includes(p));
    if (unknown.length > 0) {
      throw new ConfigError(unknown.map((p) => `unknown plugin "${p}"${didYouMean(p, treeNames)}`).join('; '), { file: profile.file, path: 'plugins' });
    }
  }
  return { ...resolved, profile };
}
