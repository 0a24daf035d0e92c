/** The generic-kernel plugin's manifest: registers the `generic` guest kernel with the host's kernel registry. */
import { GuestKernels, definePlugin } from '../../../core/api/index.js';
import { genericKernel } from './generic.js';
import { GenericKernelOptions } from './options.js';

export { GenericKernelOptions } from './options.js';
export { genericKernel } from './generic.js';

export default definePlugin({
  name: 'generic-kernel',
  version: '0.1.0',
  kind: 'guest-kernel',
  engine: '^0.1.0',
  description: 'The reference guest kernel "generic" (PV, PVH): Xen console, xenstore, control, a tiny shell',
  provides: ['KERNEL_GENERIC', 'CONSOLE', 'CONTROL'],
  requires: ['EVENT_CHANNELS'],
  configSchema: GenericKernelOptions,
  register(ctx) {
    ctx.resolve(GuestKernels).register(genericKernel(ctx.options));
  },
});
