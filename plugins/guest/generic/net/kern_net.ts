/**
 * The kernel's one network stack: made when the first interface comes up, fed by every driver through
 * `k.netInput`, its resolution timers run from the interfaces' interrupt handlers (`netTimers`).
 */
import type { Kernel } from '../kern/kernel.js';
import type { IfnetDriver } from './if.js';
import { NetStack } from './stack.js';

const stacks = new WeakMap<Kernel, NetStack>();

/** The kernel's stack (made on first use, named after kern.hostname). */
export function netStack(k: Kernel): NetStack {
  let s = stacks.get(k);
  if (s === undefined) {
    const hostname = k.sysctl.get('kern.hostname')?.get();
    s = new NetStack({ now: () => k.v.now, ...(typeof hostname === 'string' ? { hostname } : {}) });
    stacks.set(k, s);
    const stack = s;
    k.netInput = (ifname, frame, checksumValid) => stack.input(ifname, frame, checksumValid);
  }
  return s;
}

/** An interface came up: the stack takes it (with its link-local IPv6 address). */
export function netAttach(k: Kernel, ifp: IfnetDriver): void {
  netStack(k).attach(ifp);
}

/** An interface went. */
export function netDetach(k: Kernel, ifname: string): void {
  const s = stacks.get(k);
  if (s !== undefined && s.interfaces().some((i) => i.name === ifname)) s.detach(ifname);
}

/** When the stack next needs its timers run (0: never): a NIC handler's deadline. */
export function netDeadline(k: Kernel): number {
  return stacks.get(k)?.deadline() ?? 0;
}

/** Runs the stack's due timers (a NIC handler calls it each time it runs). */
export function netTimers(k: Kernel): void {
  const s = stacks.get(k);
  if (s === undefined) return;
  const due = s.deadline();
  if (due !== 0 && due <= k.v.now) s.timeout();
}
