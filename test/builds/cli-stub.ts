/** A stand-in for core/cli/main.ts in bundle tests: `names` prints the catalog, `load <plugin>...` loads plugins through the host. */
import type { PluginCatalog } from '../../core/plugin-host/catalog.js';
import { PluginHost } from '../../core/plugin-host/host.js';

/** Same signature as the real CLI's entry function. Returns the exit code. */
export async function runCli(argv: string[], env: { catalog: PluginCatalog }): Promise<number> {
  const [command, ...rest] = argv;
  const { catalog } = env;
  if (command === 'names') {
    console.log(JSON.stringify({ build: catalog.buildName, names: catalog.names(), tree: catalog.treeNames?.() ?? [], core: catalog.coreFeatures?.() ?? [] }));
    return 0;
  }
  if (command === 'load') {
    const host = new PluginHost({ catalog, features: catalog.coreFeatures?.() ?? [] });
    try {
      await host.load(rest.map((name, i) => ({ name, where: { file: 'machine.yaml', path: `plugins[${i}]` } })));
      console.log(JSON.stringify(host.statuses().map((s) => [s.name, s.status])));
      return 0;
    } catch (error) {
      console.error(error instanceof Error ? error.message : String(error));
      return 1;
    }
  }
  console.error(`unknown command ${String(command)}`);
  return 2;
}
