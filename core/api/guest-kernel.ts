/**
 * Guest kernels. A kernel plugin registers kernels by name (`generic`, like FreeBSD's GENERIC); a
 * domain's xl.cfg `kernel =` names one. The domain builder lays out memory and the boot structures
 * (PV start_info, PVH hvm_start_info, HVM params), sets the boot vCPU's registers as Xen does, then
 * gives that vCPU the kernel's entry program. From there the kernel finds everything itself — in its
 * registers and its memory — as a real kernel does.
 */
import type { Domain, VcpuProgram } from './domain.js';
import { token } from './tokens.js';

/** The domain types of xl.cfg. */
export type GuestType = 'pv' | 'pvh' | 'hvm';

/** One bootable kernel. */
export interface GuestKernel {
  /** What `kernel =` names. */
  readonly name: string;
  readonly description: string;
  /** Domain types it can boot; the builder refuses the others. */
  readonly types: readonly GuestType[];
  /**
   * The boot vCPU's program. Called after the builder set vCPU 0's registers: PV — RSI holds the
   * start_info virtual address; PVH — RBX holds the hvm_start_info physical address; HVM — firmware
   * state. The kernel reads its command line and devices from its start info and xenstore.
   */
  entry(domain: Domain, type: GuestType): VcpuProgram;
}

/** Kernels by name. */
export interface GuestKernels {
  /** Adds a kernel; a name already taken is an error naming both. */
  register(kernel: GuestKernel): void;
  get(name: string): GuestKernel | undefined;
  names(): string[];
}
export const GuestKernels = token<GuestKernels>('GuestKernels');
