/**
 * Finds and reads the kernel configuration files (config/kernels/ of the project, or a folder named in
 * the plugin's options): one kernel per file. A file with an error is reported (file:line) and
 * skipped; the others still load.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseKernelConfig, type KernelConfig } from './config.js';

/** The folder kernel configurations live in, relative to the project root. */
export const KERNCONF_DIR = join('config', 'kernels');

/** The nearest `config/kernels` folder above this module (the source tree or a built `dist/`). */
export function findKernconfDir(from: string = fileURLToPath(import.meta.url)): string | undefined {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const candidate = join(dir, KERNCONF_DIR);
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** What loading a folder gave: the kernels, and one message per file that failed. */
export interface LoadedKernconfs {
  readonly configs: KernelConfig[];
  readonly errors: string[];
}

/** Parses every plain file of `dir` (names without a dot, as FreeBSD's are); `include` reads siblings. */
export function loadKernconfs(dir: string): LoadedKernconfs {
  const configs: KernelConfig[] = [];
  const errors: string[] = [];
  const shown = (path: string): string => relative(process.cwd(), path) || path;
  const files = readdirSync(dir).filter((n) => !n.startsWith('.') && !n.includes('.') && statSync(join(dir, n)).isFile()).sort();
  for (const name of files) {
    const path = join(dir, name);
    try {
      configs.push(
        parseKernelConfig(shown(path), readFileSync(path, 'utf8'), (inc) => {
          const incPath = resolve(dir, inc);
          return existsSync(incPath) ? { file: shown(incPath), text: readFileSync(incPath, 'utf8') } : undefined;
        }),
      );
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  const seen = new Map<string, string>();
  for (const c of [...configs]) {
    const key = c.ident.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) {
      errors.push(`${c.file}: ident ${c.ident} is already used by ${other}`);
      configs.splice(configs.indexOf(c), 1);
    } else seen.set(key, c.file);
  }
  return { configs, errors };
}
