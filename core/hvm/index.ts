/** The HVM platform: per-domain vLAPICs and vIOAPIC, VM exits, ioreq servers. */
export * from './exits.js';
export * from './domain-platform.js';
export * from './ioreq-server.js';
export * from './instructions.js';
export * from './hvm-platforms.js';
