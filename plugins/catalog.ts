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
  'device-model': { folder: 'plugins/dom0/device-model', load: () => import('./dom0/device-model/index.js') },
  'disk-images': { folder: 'plugins/dom0/disk-images', load: () => import('./dom0/disk-images/index.js') },
  blkback: { folder: 'plugins/backends/blkback', load: () => import('./backends/blkback/index.js') },
  bridge: { folder: 'plugins/dom0/bridge', load: () => import('./dom0/bridge/index.js') },
  netback: { folder: 'plugins/backends/netback', load: () => import('./backends/netback/index.js') },
  uart16550: { folder: 'plugins/device-models/uart16550', load: () => import('./device-models/uart16550/index.js') },
  pit8254: { folder: 'plugins/device-models/pit8254', load: () => import('./device-models/pit8254/index.js') },
  rtc146818: { folder: 'plugins/device-models/rtc146818', load: () => import('./device-models/rtc146818/index.js') },
  'acpi-pm': { folder: 'plugins/device-models/acpi-pm', load: () => import('./device-models/acpi-pm/index.js') },
  'xen-platform': { folder: 'plugins/device-models/xen-platform', load: () => import('./device-models/xen-platform/index.js') },
  'piix-ide': { folder: 'plugins/device-models/ide', load: () => import('./device-models/ide/index.js') },
  rtl8139: { folder: 'plugins/device-models/rtl8139', load: () => import('./device-models/rtl8139/index.js') },
  pv: { folder: 'plugins/guest-modes/pv', load: () => import('./guest-modes/pv/index.js') },
  pvh: { folder: 'plugins/guest-modes/pvh', load: () => import('./guest-modes/pvh/index.js') },
  hvm: { folder: 'plugins/guest-modes/hvm', load: () => import('./guest-modes/hvm/index.js') },
  pvhvm: { folder: 'plugins/guest-modes/pvhvm', load: () => import('./guest-modes/pvhvm/index.js') },
  'generic-kernel': { folder: 'plugins/guest/generic', load: () => import('./guest/generic/index.js') },
  template: { folder: 'plugins/_template', load: () => import('./_template/index.js') },
};

/** The catalog of a run from source: every in-tree plugin is available. */
export const treeCatalog = new LazyCatalog('tree', IN_TREE_PLUGINS);
