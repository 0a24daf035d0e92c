/**
 * The generated parts of docs/: SUPPORT (from config/features.yaml), the configuration reference
 * (from the schemas, every in-tree plugin's options included) and the hypercall matrix (from the
 * table). `npm run docs` writes them; a test fails when the committed files drift from the code.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { generateConfigReference } from '../config/index.js';
import { featuresFile, loadFeatures, projectRoot, renderSupportMarkdown, type PluginCatalog } from '../plugin-host/index.js';
import { HypercallTableImpl } from '../hypercall/index.js';
import { GUEST_MODES } from '../api/domain.js';

/** The hypercall × guest-mode matrix as Markdown. */
export function renderHypercallMatrix(table = new HypercallTableImpl()): string {
  const rows = table.matrix();
  return [
    '# Hypercalls × guest modes',
    '',
    '<!-- Generated from core/hypercall/defaults.ts by `npm run docs`. Do not edit by hand. -->',
    '',
    'One table says what each guest mode does with each hypercall (Xen\'s `hypercall-defs.c`, one column per mode):',
    '**handled** goes to its handler, **privileged** is handled for privileged domains and −EPERM for others,',
    '**unavailable** is −ENOSYS. A guest-mode plugin may contribute or override its column.',
    '',
    `| # | hypercall | ${GUEST_MODES.join(' | ')} |`,
    `|---|---|${GUEST_MODES.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.nr} | \`${r.name}\` | ${GUEST_MODES.map((m) => r.decisions[m]).join(' | ')} |`),
    '',
  ].join('\n');
}

/** Every generated document, by path relative to the project root. */
export async function generatedDocs(catalog: PluginCatalog, root = projectRoot()): Promise<Record<string, string>> {
  const schemas: Record<string, TSchema> = {};
  for (const name of catalog.names()) {
    const manifest = (await catalog.load(name)) as { configSchema?: TSchema } | undefined;
    if (manifest?.configSchema) schemas[name] = manifest.configSchema;
  }
  return {
    'docs/SUPPORT.md': renderSupportMarkdown(await loadFeatures(featuresFile(root))),
    'docs/config-reference.md': generateConfigReference(schemas),
    'docs/hypercalls.md': renderHypercallMatrix(),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { treeCatalog } = await import('../../plugins/catalog.js');
  const root = projectRoot();
  for (const [file, text] of Object.entries(await generatedDocs(treeCatalog, root))) {
    writeFileSync(join(root, file), text);
    process.stdout.write(`wrote ${file}\n`);
  }
}
