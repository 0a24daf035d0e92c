/** The hypercall table, its default x86 matrix, the dispatcher and the core's own handlers. */
export * from './defaults.js';
export * from './table.js';
export * from './dispatch.js';
export * from './xen-version.js';
export * from './cpuid.js';
export * from './hypercall-page.js';
export * from './platform.js';
