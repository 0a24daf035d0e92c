/** sched_op (hypercall 29) sub-ops, shutdown reasons and their structures (xen/include/public/sched.h). */

/** `SCHEDOP_*`. */
export const SCHEDOP = {
  yield: 0,
  block: 1,
  shutdown: 2,
  poll: 3,
  remote_shutdown: 4,
  shutdown_code: 5,
  watchdog: 6,
  pin_override: 7,
} as const;

/** `SHUTDOWN_*` reasons. */
export const SHUTDOWN = { poweroff: 0, reboot: 1, suspend: 2, crash: 3, watchdog: 4, soft_reset: 5 } as const;
export type ShutdownReason = keyof typeof SHUTDOWN;

/** `struct sched_shutdown` (4 bytes): reason u32 @0. */
export const SCHED_SHUTDOWN_SIZE = 4;
/** `struct sched_poll` (24 bytes): ports handle u64 @0, nr_ports u32 @8, timeout u64 @16 (absolute ns, 0 = none). */
export const SchedPoll = { size: 24, ports: 0, nrPorts: 8, timeout: 16 } as const;
/** `struct sched_remote_shutdown` (8 bytes): domain_id u16 @0, reason u32 @4. */
export const SchedRemoteShutdown = { size: 8, domainId: 0, reason: 4 } as const;
/** `struct sched_watchdog` (8 bytes): id u32 @0, timeout u32 @4 (seconds). */
export const SchedWatchdog = { size: 8, id: 0, timeout: 4 } as const;
/** `struct sched_pin_override` (4 bytes): pcpu i32 @0 (negative: undo the override). */
export const SchedPinOverride = { size: 4, pcpu: 0 } as const;
/** The most ports one SCHEDOP_poll may name (Xen's do_poll). */
export const SCHED_POLL_MAX_PORTS = 128;
/** Watchdog timers per domain (`NR_DOMAIN_WATCHDOG_TIMERS`). */
export const NR_DOMAIN_WATCHDOG_TIMERS = 2;
