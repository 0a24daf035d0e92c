/** The kernel's state: its configuration and hooks, its CPUs, message buffer, hypervisor interface, devices, sysctls and shell commands. */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';
import type { ShutdownReason } from '../../../../core/public/index.js';
import type { XenInitOps } from '../boot/init-ops.js';
import { hasOption, type KernelConfig } from '../conf/config.js';
import type { XenConsole } from '../dev/xen/console/xc.js';
import type { EventWaiter } from '../dev/xen/evtchn.js';
import type { Hypervisor } from '../dev/xen/hypervisor.js';
import type { Xenstore } from '../dev/xen/xenstore/xenstore.js';
import type { GenericKernelOptions } from '../options.js';
import { CommandRegistry } from '../shell/commands.js';
import type { Shell } from '../shell/shell.js';
import type { Device } from './bus.js';
import type { DiskDev } from './disk.js';
import type { IfnetDriver } from '../net/if.js';
import type { KernelHooks } from './hooks.js';
import type { KThread } from './kern_thread.js';
import { SysctlTree } from './kern_sysctl.js';
import { MsgBuf } from './msgbuf.js';
import { Pcpu } from './pcpu.js';
import { IntrHandler, type IntrHandlerSpec } from './kern_intr.js';
import type { PhysAllocator } from './vm_phys.js';

/** The kernel's version, as the banner and kern.osrelease show it. */
export const KERNEL_VERSION = '0.2.0';

export class Kernel {
  readonly osrelease = KERNEL_VERSION;
  /** Sets kern.hostname unless it was set already (xenstore0 offers the domain's name); replaced by kern_mib. */
  setHostname: (name: string) => void = () => undefined;
  /** debug.mtx.runstate_check: adaptive mutexes consult the owner vCPU's Xen runstate. */
  mtxRunstateCheck = false;
  readonly msgbuf = new MsgBuf();
  readonly commands = new CommandRegistry();
  readonly sysctl = new SysctlTree();
  readonly devices: Device[] = [];
  /** Disks the drivers attached (`xbd0`, `ada0`), for `dd`, `diskinfo` and `diskcheck`. */
  readonly disks: DiskDev[] = [];
  /** Network interfaces the drivers attached (`xn0`, `rl0`). */
  readonly ifnets: IfnetDriver[] = [];
  /** Where drivers hand received frames: set by the network stack (frames are dropped while unset). */
  netInput?: (ifname: string, frame: Uint8Array, checksumValid?: boolean) => void;
  /** CPUs by id; CPU 0 boots, APs join under options SMP. */
  readonly cpus: Pcpu[] = [];
  readonly threads: KThread[] = [];
  nextTid = 100000;
  /** Virtual time at entry. */
  readonly bootTime: number;
  /** Set during early boot, in this order (initOps only on the Xen entry paths: PV and PVH; undefined on HVM/PVHVM firmware boot). */
  initOps: XenInitOps | undefined;
  hooks!: KernelHooks;
  phys!: PhysAllocator;
  cmdline = '';
  console: XenConsole | undefined;
  xenstore: Xenstore | undefined;
  /** Started once boot completes; console input waits in the ring until then. */
  shell: Shell | undefined;
  /** Set once a shutdown began (SCHEDOP_shutdown is next). */
  shuttingDown: ShutdownReason | undefined;
  /** Suspends that returned (cancelled or resumed). */
  suspends = 0;
  /** hardclock ticks since boot (FreeBSD's `ticks`), counted on CPU 0. */
  ticks = 0;
  /** `kern.hz`: hardclock ticks per second. */
  hz: number;
  /** The RIP of the AP entry point the plugin registered (generic.ts); 0 = none (no SMP). */
  apEntry = 0;
  /** Guest address of the start info the boot protocol passed. */
  preloadStartInfo = 0;
  /** What each CPU runs on itself once set up, before it idles (drivers with per-CPU parts add here: xentimer). */
  readonly cpuStart: ((cpu: Pcpu) => Generator<VcpuRequest, void, unknown>)[] = [];
  /** Console output queues other than the PV console's, pushed out before the machine stops (the UART's on HVM). */
  readonly consoleFlush: { flush(): Generator<VcpuRequest, void, unknown>; readonly backlog: number }[] = [];
  /** Guest address of the shared-info page, when the kernel reaches it. */
  sharedInfo: number | undefined;

  constructor(
    readonly v: VcpuApi,
    readonly options: GenericKernelOptions,
    readonly config: KernelConfig,
  ) {
    this.bootTime = v.now;
    this.cpus.push(new Pcpu(0, v));
    const hz = config.options.get('HZ');
    this.hz = typeof hz === 'string' ? Number(hz) : 100;
  }

  /** The boot CPU. */
  get bsp(): Pcpu {
    return this.cpus[0]!;
  }

  /** The boot CPU's hypercall interface (each CPU has its own: `cpus[i].hv`). */
  get hv(): Hypervisor {
    return this.bsp.hv;
  }

  set hv(hv: Hypervisor) {
    this.bsp.hv = hv;
  }

  /** The boot CPU's event waiting (each CPU has its own: `cpus[i].events`). */
  get events(): EventWaiter {
    return this.bsp.events;
  }

  set events(events: EventWaiter) {
    this.bsp.events = events;
  }

  get intr(): IntrHandler[] {
    return this.bsp.intr;
  }

  /** True when the kernel was built with `options name`. */
  option(name: string): boolean {
    return hasOption(this.config, name);
  }

  /** True when the kernel was built with `device name`. */
  hasDevice(name: string): boolean {
    return this.config.devices.has(name);
  }

  /** The CPU `v` is, for code that runs on any CPU. */
  cpuOf(v: VcpuApi): Pcpu {
    const cpu = this.cpus.find((c) => c.v === v);
    if (cpu === undefined) throw new Error(`no CPU for vcpu${v.vcpuId}`);
    return cpu;
  }

  /** Kernel printf: one line into the message buffer and the console. */
  printf(line: string): void {
    this.msgbuf.printf(line);
  }

  /** Virtual ns since the kernel was entered. */
  uptimeNs(): number {
    return this.v.now - this.bootTime;
  }

  /** Adds an event-channel handler to CPU `cpu`'s idle loop (the boot CPU by default). */
  bindIntr(spec: IntrHandlerSpec, cpu: Pcpu = this.bsp): IntrHandler {
    const handler = new IntrHandler(spec, cpu);
    cpu.addIntr(handler);
    return handler;
  }

  /** Takes a handler off its CPU's idle loop. */
  unbindIntr(handler: IntrHandler): void {
    handler.cpu.removeIntr(handler);
  }
}
