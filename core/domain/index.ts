/** Domains and the domain registry. */
export * from './domain.js';
export * from './domain-registry.js';
