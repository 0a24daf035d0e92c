/** Machine memory, per-domain P2M and guest-physical access. */
export * from './machine-memory.js';
export * from './p2m.js';
export * from './guest-memory.js';
