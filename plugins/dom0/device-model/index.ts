/** The device-model plugin's manifest: one emulated platform per HVM/PVHVM guest, run as Dom0 work. */
import { Consoles, DeviceModel, DeviceModelHost, Dom0Tasks, DomainRegistry, Engine, IoreqServers, NoOptions, Xenstore, definePlugin } from '../../../core/api/index.js';
import { DeviceModelHostService } from './host.js';

export { DeviceModelHostService, type DeviceModelHostDeps } from './host.js';
export { DeviceModelRun, type DeviceModelRunDeps } from './instance.js';

/** The `device-model` plugin. */
export default definePlugin({
  name: 'device-model',
  version: '0.1.0',
  kind: 'dom0-service',
  engine: '^0.1.0',
  description: 'The device-model host: per HVM guest an ioreq server, a PCI host bridge and the emulated devices, charged to Dom0',
  provides: ['DEVICE_MODEL'],
  requires: ['XENSTORE'],
  configSchema: NoOptions,
  register(ctx) {
    let host: DeviceModelHostService | undefined;
    return {
      // Dom0's tasks, the ioreq servers and xenstored's Dom0 client exist once the host has built its pool.
      start() {
        host = new DeviceModelHostService({
          servers: ctx.resolve(IoreqServers),
          tasks: ctx.resolve(Dom0Tasks),
          domains: ctx.resolve(DomainRegistry),
          engine: ctx.resolve(Engine),
          models: () => ctx.resolveAll(DeviceModel),
          xenstore: ctx.resolve(Xenstore).dom0,
          consoles: () => ctx.resolveAll(Consoles)[0],
          log: ctx.log,
        });
        ctx.provide(DeviceModelHost, host);
      },
      dispose() {
        host?.dispose();
      },
    };
  },
});
