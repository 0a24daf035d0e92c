/** The in-tree catalog: every plugin of the source tree by name, imported only when enabled. */
import { LazyCatalog, type InTreePlugin } from '../core/plugin-host/catalog.js';

/**
 * Every in-tree plugin: its folder and a lazy import of its `index.ts`. Add a line here when you add a
 * plugin folder; the bundler reads `folder` to import the plugin statically into a build.
 */
export const IN_TREE_PLUGINS: Readonly<Record<string, InTreePlugin>> = {
  credit: { folder: 'plugins/schedulers/credit', load: () => import('./schedulers/credit/index.js') },
  'cpu-loop': { folder: 'plugins/workloads/cpu-loop', load: () => import('./workloads/cpu-loop/index.js') },
  xenstored: { folder: 'plugins/dom0/xenstored', load: () => import('./dom0/xenstored/index.js') },
  xenconsoled: { folder: 'plugins/dom0/xenconsoled', load: () => import('./dom0/xenconsoled/index.js') },
  toolstack: { folder: 'plugins/dom0/toolstack', load: () => import('./dom0/toolstack/index.js') },
  'generic-kernel': { folder: 'plugins/guest/generic', load: () => import('./guest/generic/index.js') },
  template: { folder: 'plugins/_template', load: () => import('./_template/index.js') },
};

/** The catalog of a run from source: every in-tree plugin is available. */
export const treeCatalog = new LazyCatalog('tree', IN_TREE_PLUGINS);
