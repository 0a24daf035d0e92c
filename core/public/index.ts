/** The guest-visible ABI: constants and wire layouts, no logic. Plugins may import this. */
export * from './types.js';
export * from './memory.js';
export * from './errno.js';
export * from './xen.js';
export * from './paging.js';
export * from './sched.js';
export * from './vcpu.js';
export * from './version.js';
export * from './shared-info.js';
export * from './hvm.js';
