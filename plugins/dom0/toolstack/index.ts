/** The toolstack plugin's manifest: libxl's job as a Dom0 service — builder, xenstore homes, lifecycle, xl operations. */
import { join } from 'node:path';
import {
  CpuMask,
  DeviceModelHost,
  Dom0Tasks,
  DomainRegistry,
  Engine,
  EventChannels,
  GrantTables,
  GuestKernels,
  GuestModes,
  Platform,
  RunDir,
  MachineMemory,
  PciAssignment,
  Toolstack,
  Xenstore,
  definePlugin,
} from '../../../core/api/index.js';
import { ToolstackOptions } from './options.js';
import { ToolstackImpl } from './toolstack.js';
import { xenMac } from './devices.js';

export { ToolstackOptions } from './options.js';

export default definePlugin({
  name: 'toolstack',
  version: '0.1.0',
  kind: 'dom0-service',
  engine: '^0.1.0',
  description: 'The toolstack: domain builder (the guest-mode plugins do the mode-specific part), libxl xenstore homes, on_poweroff/on_reboot/on_crash, xl operations',
  provides: ['TOOLSTACK'],
  requires: ['XENSTORE', 'EVENT_CHANNELS', 'GRANT_TABLES'],
  configSchema: ToolstackOptions,
  register(ctx) {
    let impl: ToolstackImpl | undefined;
    return {
      // The domain registry and Dom0 exist only once the host has built its pool: provide at start.
      start() {
        const engine = ctx.resolve(Engine);
        const runDir = ctx.resolve(RunDir);
        const macRng = engine.rng.fork('toolstack/mac');
        impl = new ToolstackImpl({
          engine,
          tasks: ctx.resolve(Dom0Tasks),
          log: ctx.log,
          domains: ctx.resolve(DomainRegistry),
          evtchn: ctx.resolve(EventChannels),
          gnttab: ctx.resolve(GrantTables),
          platform: ctx.resolve(Platform),
          kernels: ctx.resolve(GuestKernels),
          modes: ctx.resolve(GuestModes),
          xenstore: ctx.resolve(Xenstore),
          nameTaken: (name) => impl!.nameTaken(name),
          cpuMask: (set) => (set === 'all' ? undefined : CpuMask.of(...set)),
          consoleTty: (domid) => join(runDir, 'console', `${domid}.sock`),
          now: () => engine.now,
          mac: () => xenMac([macRng.nextInt(256), macRng.nextInt(256), macRng.nextInt(256)]),
          shutdownTimeoutNs: ctx.options.shutdownTimeoutMs * 1e6,
          deviceModels: () => ctx.resolveAll(DeviceModelHost)[0],
          memory: ctx.resolve(MachineMemory),
          pci: ctx.resolve(PciAssignment),
          dumpDir: join(runDir, 'dump'),
        });
        impl.initDom0();
        ctx.provide(Toolstack, impl);
      },
      dispose() {
        impl?.dispose();
      },
    };
  },
});
