/** memory_op (reservations, physmap, memory map) — being written (issue 3). */
import type { SubsystemFactory } from '../host/subsystem.js';

export const createMemoryOps: SubsystemFactory = () => ({ name: 'memory-op' });
