/** What the device model's work costs Dom0, beyond the cost model's `emulatedIo` per ioreq. */

/** Cycles to bring up one guest's device model (QEMU's start-up: machine init, device realize). */
export const STARTUP_CYCLES = 2_000_000;
/** Cycles to wake for a device timer and run its callback (QEMU's timer-list dispatch). */
export const TIMER_CYCLES = 2_000;
