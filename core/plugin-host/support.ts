/** Renders the SUPPORT table (feature, status, description, plugins) from the feature declarations. */
import type { FeatureDeclaration, FeatureStatus } from './features.js';

const STATUS_TEXT: Record<FeatureStatus, string> = {
  supported: 'Supported',
  experimental: 'Experimental',
  'tech-preview': 'Tech preview',
  missing: 'Missing',
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/**
 * The Markdown of `docs/SUPPORT.md`: an introduction, then one table per group in the order the
 * groups first appear in the declarations. The same declarations always give the same text.
 */
export function renderSupportMarkdown(decls: readonly FeatureDeclaration[], title = 'Feature support'): string {
  const groups = new Map<string, FeatureDeclaration[]>();
  for (const d of decls) groups.set(d.group, [...(groups.get(d.group) ?? []), d]);
  const lines = [
    `# ${title}`,
    '',
    'Generated from `config/features.yaml`; edit that file, not this one. Statuses follow Xen\'s SUPPORT.md:',
    '**Supported** works and is tested, **Tech preview** works but may change, **Experimental** exists and is',
    'incomplete, **Missing** is declared but nothing implements it yet. "core" means the core provides it.',
  ];
  for (const [group, list] of groups) {
    lines.push('', `## ${group}`, '', '| Feature | Status | Description | Plugins |', '|---|---|---|---|');
    for (const d of list) {
      const plugins = d.plugins.length > 0 ? d.plugins.map((p) => `\`${p}\``).join(', ') : d.status === 'missing' ? '—' : 'core';
      const deps = d.depends_on.length > 0 ? ` (depends on ${d.depends_on.join(', ')})` : '';
      lines.push(`| \`${d.name}\` | ${STATUS_TEXT[d.status]} | ${cell(d.description + deps)} | ${plugins} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
