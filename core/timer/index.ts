/** The timer module: platform clock, TSC and per-CPU software timers. */
export * from './platform-clock.js';
export * from './tsc.js';
export * from './timer.js';
export * from './pv-time.js';
