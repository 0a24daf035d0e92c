/** `xeno plugins`: every plugin of the build (and of a machine's configuration) with kind, version and status. */
import { PluginHost, type PluginCatalog, type PluginStatusInfo } from '../../plugin-host/index.js';
import { formatTable } from '../format.js';

/** Rows for every plugin of the build (manifests imported to read kind and version) and those outside it. */
export async function catalogRows(catalog: PluginCatalog): Promise<PluginStatusInfo[]> {
  return new PluginHost({ catalog }).describe();
}

export function renderPluginRows(rows: readonly PluginStatusInfo[]): string {
  const table = formatTable(
    ['NAME', 'KIND', 'VERSION', 'STATUS', 'SOURCE'],
    rows.map((r) => [r.name, r.kind ?? '-', r.version ?? '-', r.status, r.source]),
  );
  const errors = rows.filter((r) => r.error && (r.status === 'failed' || r.status === 'skipped')).map((r) => `${r.name}: ${r.error}`);
  return errors.length > 0 ? `${table}\n${errors.join('\n')}\n` : table;
}
