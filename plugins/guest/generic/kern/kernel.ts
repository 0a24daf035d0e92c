/** The kernel's state: its vCPU, message buffer, hypervisor interface, devices, interrupt handlers and shell commands. */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';
import type { ShutdownReason } from '../../../../core/public/index.js';
import type { XenInitOps } from '../boot/init-ops.js';
import type { XenConsole } from '../dev/xen/console/xc.js';
import type { EventWaiter } from '../dev/xen/evtchn.js';
import type { Hypervisor } from '../dev/xen/hypervisor.js';
import type { Xenstore } from '../dev/xen/xenstore/xenstore.js';
import type { GenericKernelOptions } from '../options.js';
import { CommandRegistry } from '../shell/commands.js';
import type { Shell } from '../shell/shell.js';
import type { Device } from './bus.js';
import { MsgBuf } from './msgbuf.js';

/**
 * What runs when an event channel may have fired (FreeBSD's intr handlers): looks at its ring and
 * says whether it found work. Handlers run after the port's pending bit is cleared, so nothing is lost.
 */
export interface IntrHandler {
  readonly name: string;
  readonly port: number;
  handle(): Generator<VcpuRequest, boolean, unknown>;
  /** Absolute virtual time (ns) by which the idle loop should look again even without an event; 0 = none. */
  deadline?(): number;
}

export class Kernel {
  readonly msgbuf = new MsgBuf();
  readonly commands = new CommandRegistry();
  readonly devices: Device[] = [];
  readonly intr: IntrHandler[] = [];
  /** Virtual time at entry. */
  readonly bootTime: number;
  /** Set during early boot, in this order. */
  initOps!: XenInitOps;
  hv!: Hypervisor;
  events!: EventWaiter;
  cmdline = '';
  console: XenConsole | undefined;
  xenstore: Xenstore | undefined;
  /** Started once boot completes; console input waits in the ring until then. */
  shell: Shell | undefined;
  /** Set once a shutdown began (SCHEDOP_shutdown is next). */
  shuttingDown: ShutdownReason | undefined;

  constructor(
    readonly v: VcpuApi,
    readonly options: GenericKernelOptions,
  ) {
    this.bootTime = v.now;
  }

  /** Kernel printf: one line into the message buffer and the console. */
  printf(line: string): void {
    this.msgbuf.printf(line);
  }

  /** Virtual ns since the kernel was entered. */
  uptimeNs(): number {
    return this.v.now - this.bootTime;
  }

  /** Adds an event-channel handler to the idle loop. */
  bindIntr(handler: IntrHandler): void {
    this.intr.push(handler);
  }

  /** Runs the handlers once; true when any found work. */
  *runIntr(): Generator<VcpuRequest, boolean, unknown> {
    for (const h of this.intr) this.events.consume(h.port);
    let worked = false;
    for (const h of this.intr) if (yield* h.handle()) worked = true;
    return worked;
  }
}
