/**
 * The generic-kernel plugin's manifest: reads the kernel configurations (config/kernels/, or the
 * folder in its options) and registers one guest kernel per file, named by its lower-cased ident
 * (`GENERIC` → `generic`). A file with an error is logged with file:line and skipped.
 */
import { GuestEntryPoints, GuestKernels, definePlugin } from '../../../core/api/index.js';
import { findKernconfDir, loadKernconfs } from './conf/load.js';
import { genericKernel } from './generic.js';
import { GenericKernelOptions } from './options.js';

export { GenericKernelOptions } from './options.js';
export { genericKernel } from './generic.js';

export default definePlugin({
  name: 'generic-kernel',
  version: '0.2.0',
  kind: 'guest-kernel',
  engine: '^0.1.0',
  description: 'The reference guest kernels of config/kernels (PV, PVH): Xen console, xenstore, control, xentimer, balloon, evtchn, SMP, a shell',
  provides: ['KERNEL_GENERIC', 'CONSOLE', 'CONTROL', 'BALLOON', 'EVTCHN_DEV'],
  requires: ['EVENT_CHANNELS'],
  configSchema: GenericKernelOptions,
  register(ctx) {
    const dir = ctx.options.kernconfDir !== '' ? ctx.options.kernconfDir : findKernconfDir();
    if (dir === undefined) throw new Error('generic-kernel: no config/kernels folder found above the plugin; set the kernconfDir option');
    const { configs, errors } = loadKernconfs(dir);
    for (const e of errors) ctx.log.error(`kernel configuration skipped: ${e}`);
    if (configs.length === 0) throw new Error(`generic-kernel: no usable kernel configuration in ${dir}`);
    const kernels = ctx.resolve(GuestKernels);
    // The scheduling ops exist once the hypervisor's subsystems are up, after plugins register.
    const entryPoints: GuestEntryPoints = { setEntryPoint: (domid, rip, program) => ctx.resolve(GuestEntryPoints).setEntryPoint(domid, rip, program) };
    for (const config of configs) kernels.register(genericKernel(config, ctx.options, entryPoints));
  },
});
