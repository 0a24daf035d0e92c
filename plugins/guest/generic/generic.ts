/** The `generic` guest kernel (like FreeBSD's GENERIC): one kernel for PV and PVH guests, which finds out how it was booted. */
import type { GuestKernel, VcpuProgram } from '../../../core/api/index.js';
import { Kernel } from './kern/kernel.js';
import { kernelMain } from './kern/init_main.js';
import type { GenericKernelOptions } from './options.js';

export function genericKernel(options: GenericKernelOptions): GuestKernel {
  const program: VcpuProgram = (v) => kernelMain(new Kernel(v, options));
  return {
    name: 'generic',
    description: 'The reference guest kernel: Xen console, xenstore, control and a tiny shell',
    types: ['pv', 'pvh'],
    // The kernel reads everything from its registers and memory, as a real one does: not from the domain.
    entry: () => program,
  };
}
