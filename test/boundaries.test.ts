import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative import targets of a file, resolved to project-relative paths. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => relative(ROOT, resolve(dirname(file), s)));
}

describe('import boundaries', () => {
  it('plugins import only core/api and core/public from the core (the catalog is the build, not a plugin)', () => {
    const offending: string[] = [];
    for (const file of tsFiles(join(ROOT, 'plugins'))) {
      if (relative(ROOT, file) === join('plugins', 'catalog.ts')) continue;
      for (const target of imports(file)) {
        if (target.startsWith('core/') && !target.startsWith('core/api/') && !target.startsWith('core/public/')) offending.push(`${relative(ROOT, file)} → ${target}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('core/public holds no logic beyond constants, types and trivial constructors', () => {
    for (const file of tsFiles(join(ROOT, 'core', 'public'))) {
      for (const target of imports(file)) expect(target.startsWith('core/public/'), `${file} imports ${target}`).toBe(true);
    }
  });

  it('the core never imports a plugin (only the executable entry binds the tree catalog)', () => {
    const offending: string[] = [];
    for (const file of tsFiles(join(ROOT, 'core'))) {
      const rel = relative(ROOT, file);
      if (rel === join('core', 'cli', 'bin.ts') || rel === join('core', 'cli', 'docs.ts')) continue;
      for (const target of imports(file)) if (target.startsWith('plugins/')) offending.push(`${rel} → ${target}`);
    }
    expect(offending).toEqual([]);
  });
});
