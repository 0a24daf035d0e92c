/**
 * The guest kernels built from config/kernels (like FreeBSD's GENERIC): one kernel per configuration
 * file, for PV, PVH and HVM guests (PVHVM when the Xen platform device is there), which finds out how it was booted. With options SMP the kernel's AP
 * entry point is registered per domain, so VCPUOP_up on an AP runs the kernel's AP code there.
 */
import type { GuestEntryPoints, GuestKernel, VcpuProgram } from '../../../core/api/index.js';
import type { KernelConfig } from './conf/config.js';
import { Kernel } from './kern/kernel.js';
import { kernelMain } from './kern/init_main.js';
import { apMain } from './kern/mp_machdep.js';
import type { GenericKernelOptions } from './options.js';

/** Where APs start (FreeBSD's mptramp lives in low memory too): the RIP the AP's VCPUOP_initialise context names. */
export const AP_ENTRY_RIP = 0x9000;

/** The kernel of configuration `config`; `entryPoints` lets an SMP kernel start its APs. */
export function genericKernel(config: KernelConfig, options: GenericKernelOptions, entryPoints?: GuestEntryPoints): GuestKernel {
  const smp = config.options.has('SMP') && entryPoints !== undefined;
  const devices = [...config.devices].sort().join(', ');
  return {
    name: config.ident.toLowerCase(),
    description: `The reference guest kernel ${config.ident} (${config.file}): console, xenstore, control, shell${devices ? `; devices ${devices}` : ''}${smp ? '; SMP' : ''}`,
    types: ['pv', 'pvh', 'hvm'],
    // The kernel reads everything from its registers and memory, as a real one does: not from the domain.
    entry: (domain) => {
      let kernel: Kernel | undefined;
      if (smp) {
        entryPoints.setEntryPoint(domain.domid, AP_ENTRY_RIP, (v) => {
          if (kernel === undefined) throw new Error(`dom${domain.domid} vcpu${v.vcpuId}: AP started before the boot CPU`);
          return apMain(kernel, v);
        });
      }
      const program: VcpuProgram = (v) => {
        kernel = new Kernel(v, options, config);
        if (smp) kernel.apEntry = AP_ENTRY_RIP;
        return kernelMain(kernel);
      };
      return program;
    },
  };
}
