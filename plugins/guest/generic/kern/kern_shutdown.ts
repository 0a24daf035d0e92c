/**
 * kern_reboot and panic: say goodbye on the console, give the backend a moment to take it, then
 * SCHEDOP_shutdown — or, on a machine whose platform code installed its own way (acpi0 on a plain HVM
 * guest: S5 through PM1a_CNT, reset through 0xCF9), that way.
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { ShutdownReason } from '../../../../core/public/index.js';
import type { Kernel } from './kernel.js';

/** How a kernel shutdown ends; reason is what Xen is told. */
export type HowTo = 'poweroff' | 'halt' | 'reboot' | 'crash';

const REASON: Record<HowTo, ShutdownReason> = { poweroff: 'poweroff', halt: 'poweroff', reboot: 'reboot', crash: 'crash' };
const FAREWELL: Record<HowTo, string> = {
  poweroff: 'Powering off...',
  halt: 'The operating system has halted.',
  reboot: 'Rebooting...',
  crash: 'Dumping core is not supported; crashing the domain.',
};

/** A platform's way to end the machine (FreeBSD's shutdown_final handlers); returns only if it failed. */
export type MachineShutdown = (reason: ShutdownReason) => Generator<VcpuRequest, void, unknown>;

const machineShutdown = new WeakMap<Kernel, MachineShutdown>();

/** Installs `k`'s platform shutdown (acpi0 on HVM without the Xen platform device); SCHEDOP_shutdown otherwise. */
export function setMachineShutdown(k: Kernel, fn: MachineShutdown): void {
  machineShutdown.set(k, fn);
}

/** "1d2h3m4s", as FreeBSD prints uptime at shutdown. */
export function formatUptime(ns: number): string {
  let s = Math.floor(ns / 1e9);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (s >= size || parts.length > 0) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  parts.push(`${s}s`);
  return parts.join('');
}

/** How often a console drain looks at the UART again: about a 16-byte FIFO at 115200 baud. */
const UART_POLL_NS = 1_400_000;

/** Waits up to the drain time for the console backends to take our output. */
function* drainConsole(k: Kernel): Generator<VcpuRequest, void, unknown> {
  const deadline = k.v.now + k.options.consoleDrainMs * 1e6;
  for (const c of k.consoleFlush) {
    // A UART takes a FIFO's worth at a time: poll until its queue is out (interrupts may be off by now).
    for (yield* c.flush(); c.backlog > 0 && k.v.now < deadline; yield* c.flush()) yield k.v.sleepFor(UART_POLL_NS);
  }
  const xc = k.console;
  if (xc === undefined) return;
  for (;;) {
    k.events.consume(xc.port);
    xc.flush();
    if (xc.backlog === 0 || k.v.now >= deadline) return;
    yield* k.events.wait([xc.port], deadline);
  }
}

/** Shuts the domain down. Returns only if Xen refused (the kernel then keeps running). */
export function* kernReboot(k: Kernel, howto: HowTo): Generator<VcpuRequest, void, unknown> {
  const reason = REASON[howto];
  k.shuttingDown = reason;
  k.printf('Shutting down');
  k.printf(`Uptime: ${formatUptime(k.uptimeNs())}`);
  k.printf(FAREWELL[howto]);
  yield* drainConsole(k);
  try {
    const platform = machineShutdown.get(k);
    if (platform !== undefined) yield* platform(reason);
    else yield* k.hv.shutdown(reason);
  } catch (error) {
    k.printf(`shutdown: ${(error as Error).message}`);
  }
  k.shuttingDown = undefined;
}

/** panic(9): the message, then a crash shutdown. Never returns. */
export function* panic(k: Kernel, message: string): Generator<VcpuRequest, never, unknown> {
  k.printf(`panic: ${message}`);
  k.shuttingDown = 'crash';
  yield* drainConsole(k);
  for (;;) {
    try {
      yield* k.hv.shutdown('crash');
    } catch {
      // No hypervisor interface yet (panic before it existed): nothing to tell.
    }
    yield k.v.sleepFor(1e12);
  }
}
