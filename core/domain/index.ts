/** Domains and the domain registry. */
export * from './domain.js';
export * from './domain-registry.js';
export * from './shared-info.js';
export * from './hvm-params.js';
