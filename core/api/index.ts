/** The plugin SDK: contracts, tokens, errors and `definePlugin`. Plugins import this and core/public only. */
export * from './errors.js';
export * from './log.js';
export * from './tokens.js';
export * from './plugin.js';
export * from './memory.js';
export * from './scheduler.js';
export * from './hypercall.js';
export * from './domain.js';
export * from './interrupts.js';
export * from './io.js';
export * from './event-channel.js';
export * from './grant-table.js';
export * from './platform.js';
