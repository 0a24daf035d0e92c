/** The deterministic engine: virtual time, events, randomness, trace, costs and pacing. */
export * from './event-queue.js';
export * from './rng.js';
export * from './trace.js';
export * from './cost-model.js';
export * from './engine.js';
export * from './pacer.js';
