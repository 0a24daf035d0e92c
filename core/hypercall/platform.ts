/** CPUID leaves, hypercall page, hvm_op, multicall, console_io, xen_version — being written (issue 3). */
import type { SubsystemFactory } from '../host/subsystem.js';

export const createPlatformOps: SubsystemFactory = () => ({ name: 'platform' });
