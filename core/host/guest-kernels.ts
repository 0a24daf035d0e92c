/** The registry of bootable guest kernels: kernel plugins add theirs in `register()`, the builder looks them up. */
import { ConfigError } from '../api/errors.js';
import type { GuestKernel, GuestKernels } from '../api/guest-kernel.js';

export class GuestKernelRegistry implements GuestKernels {
  private readonly kernels = new Map<string, GuestKernel>();

  register(kernel: GuestKernel): void {
    if (this.kernels.has(kernel.name)) throw new ConfigError(`guest kernel "${kernel.name}" is registered twice`);
    this.kernels.set(kernel.name, kernel);
  }

  get(name: string): GuestKernel | undefined {
    return this.kernels.get(name);
  }

  names(): string[] {
    return [...this.kernels.keys()].sort();
  }
}
