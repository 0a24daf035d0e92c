/** Fakes that ship with the core, so plugins and their tests can run against honest small implementations. */
export * from './fake-machine-memory.js';
export * from './fake-guest-access.js';
