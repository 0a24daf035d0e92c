/** Physical and virtual CPUs, the runner and the scheduler registry. */
export * from './vcpu-context.js';
export * from './vcpu.js';
export * from './pcpu.js';
export * from './cpupool.js';
export * from './scheduler-registry.js';
