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
export * from './event-channel.js';
export * from './grant-table.js';
export * from './memory-op.js';
export * from './domctl.js';
export * from './platform.js';
export * from './boot.js';
export * from './xenstore.js';
