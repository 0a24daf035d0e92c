/**
 * One guest's device model (one QEMU process): its ioreq server, its buses and PCI host bridge, the
 * emulated devices the registered device models make for it, and the ioreq and timer work it does as
 * Dom0 tasks.
 */
import type {
  Consoles,
  DeviceModel,
  DeviceModelContext,
  DeviceModelInstance,
  DeviceModelTrigger,
  Dom0Tasks,
  DomainConfig,
  EmulatedDevice,
  EmulatedUnplug,
  Engine,
  GuestMode,
  InterruptLine,
  IoreqServer,
  Logger,
  SerialLine,
  VcpuApi,
} from '../../../core/api/index.js';
import { gsi } from '../../../core/public/index.js';
import { TIMER_CYCLES } from './costs.js';
import { IoBus, type DeviceFault } from './io-bus.js';
import { handleIoreq } from './ioreq.js';
import { PciHost } from './pci-bus.js';

/** What a device model run is made from: every dependency explicit, so tests can hand it fakes. */
export interface DeviceModelRunDeps {
  readonly server: IoreqServer;
  readonly tasks: Dom0Tasks;
  readonly engine: Pick<Engine, 'at' | 'cancel' | 'now'>;
  readonly models: readonly DeviceModel[];
  /** xenconsoled, for `serial = "pty"` (absent: serial output goes nowhere). */
  readonly consoles?: Pick<Consoles, 'attachSerial'>;
  /** The core's domain shutdown for this guest (absent in tests without a domain registry: the request is logged as refused). */
  readonly shutdown?: (reason: 'poweroff' | 'reboot') => void;
  readonly log: Logger;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
/** Xen's hvm_isa_irq_to_gsi: ISA IRQ 0 is wired to GSI 2 (the IO-APIC's pin 2), the others to their number. */
const isaGsi = (irq: number): number => (irq === 0 ? 2 : irq);

/** A running device model. */
export class DeviceModelRun implements DeviceModelInstance {
  readonly devices: string[] = [];
  requests = 0;
  private readonly bus: IoBus;
  readonly pci: PciHost;
  private readonly made: { name: string; device: EmulatedDevice }[] = [];
  private readonly pending = new Set<number>();
  private taskQueued = false;
  private stopped = false;
  private readonly timers = new Set<() => void>();
  private readonly serials = new Map<number, SerialLine & { close(): void }>();
  /** Per ISA IRQ, the lines holding it high (lines of one IRQ are wired-OR). */
  private readonly isaHolders = new Map<number, Set<object>>();
  /** The Dom0 vCPU running this model's task now: the clock devices see. */
  private current: VcpuApi | undefined;
  private readonly unlisten: () => void;

  constructor(
    readonly domid: number,
    readonly config: DomainConfig,
    readonly mode: GuestMode,
    private readonly deps: DeviceModelRunDeps,
  ) {
    this.bus = new IoBus(deps.server, domid, (f) => this.fault(f));
    this.pci = new PciHost(this.bus.registrar('pci-host'), deps.server);
    this.unlisten = deps.server.onRequest((vcpu) => this.request(vcpu));
  }

  /** Makes every wanted device, each in isolation: one that fails to build is logged and left out. */
  createDevices(): void {
    for (const model of this.deps.models) {
      let wanted: boolean;
      try {
        wanted = model.wanted(this.config, this.mode);
      } catch (error) {
        this.deps.log.error(`dom${this.domid}: device model ${model.name}: wanted() failed: ${message(error)}`);
        continue;
      }
      if (!wanted) continue;
      try {
        this.made.push({ name: model.name, device: model.create(this.context(model.name)) });
        this.devices.push(model.name);
      } catch (error) {
        this.deps.log.error(`dom${this.domid}: device ${model.name} could not be created: ${message(error)}`);
      }
    }
  }

  /** Disposes the devices, releases the buses, closes serial lines and destroys the ioreq server. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unlisten();
    for (const cancel of [...this.timers]) cancel();
    for (const { name, device } of this.made.splice(0).reverse()) {
      try {
        device.dispose();
      } catch (error) {
        this.deps.log.error(`dom${this.domid}: device ${name} failed to dispose: ${message(error)}`);
      }
    }
    this.pci.dispose();
    this.bus.dispose();
    for (const line of this.serials.values()) line.close();
    this.serials.clear();
    this.deps.server.destroy();
  }

  get active(): boolean {
    return !this.stopped;
  }

  /** QEMU's `info qtree`, shortened: devices, PCI functions, claimed ranges. */
  dump(): string {
    const hex = (n: number): string => `0x${n.toString(16)}`;
    const lines = [`device model dom${this.domid} (${this.mode}): ${this.requests} ioreqs`, this.pci.dump()];
    for (const space of ['pio', 'mmio'] as const) for (const r of this.bus.active(space)) lines.push(`${space} ${hex(r.start)}-${hex(r.start + r.length - 1)} ${r.owner}`);
    for (const { name, device } of this.made) if (device.dump !== undefined) lines.push(`${name}: ${device.dump()}`);
    return lines.join('\n');
  }

  /** The emulated device named `name`, as its model made it (tests and plugin-specific views). */
  device(name: string): EmulatedDevice | undefined {
    return this.made.find((m) => m.name === name)?.device;
  }

  /** Offers a toolstack trigger to every device; true when one acted on it. */
  trigger(kind: DeviceModelTrigger): boolean {
    if (this.stopped) return false;
    let handled = false;
    for (const { name, device } of this.made) {
      if (device.trigger === undefined) continue;
      try {
        if (device.trigger(kind)) handled = true;
      } catch (error) {
        this.deps.log.error(`dom${this.domid}: device ${name} failed on the ${kind} trigger: ${message(error)}`);
      }
    }
    return handled;
  }

  /** Offers an unplug request from device `from` to every other device, each in isolation. */
  private unplug(from: string, what: EmulatedUnplug): void {
    if (this.stopped) return;
    for (const { name, device } of this.made) {
      if (name === from || device.onUnplug === undefined) continue;
      try {
        device.onUnplug(what);
      } catch (error) {
        this.deps.log.error(`dom${this.domid}: device ${name} failed to unplug ${what} (asked by ${from}): ${message(error)}`);
      }
    }
  }

  private shutdownGuest(name: string, reason: 'poweroff' | 'reboot'): void {
    if (this.stopped) return;
    const shutdown = this.deps.shutdown;
    if (shutdown === undefined) {
      this.deps.log.warn(`dom${this.domid}: ${name} asked for ${reason}, but this device model cannot shut its guest down`);
      return;
    }
    this.deps.log.info(`dom${this.domid}: ${name}: guest ${reason}`);
    shutdown(reason);
  }

  private context(name: string): DeviceModelContext {
    const { server } = this.deps;
    return {
      domid: this.domid,
      config: this.config,
      mode: this.mode,
      io: this.bus.registrar(name),
      isaIrq: (irq) => this.isaIrq(irq),
      pci: this.pci,
      memory: server.guestMemory,
      serial: (index) => this.serial(index),
      now: () => this.current?.now ?? this.deps.engine.now,
      timer: (at, fn) => this.timer(name, at, fn),
      shutdown: (reason) => this.shutdownGuest(name, reason),
      charge: (cost, times) => this.current?.charge(cost, times),
      compute: (cycles) => this.current?.compute(cycles),
      unplug: (what) => this.unplug(name, what),
      warn: (text) => this.deps.log.warn(`dom${this.domid}: ${name}: ${text}`),
      info: (text) => this.deps.log.info(`dom${this.domid}: ${name}: ${text}`),
    };
  }

  private isaIrq(irq: number): InterruptLine {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15) throw new RangeError(`dom${this.domid}: ISA IRQ ${irq} out of range (0-15)`);
    const holders = this.isaHolders.get(irq) ?? new Set<object>();
    this.isaHolders.set(irq, holders);
    const server = this.deps.server;
    const self = {};
    const level = (): void => server.setIsaIrqLevel(irq, holders.size > 0);
    return {
      gsi: gsi(isaGsi(irq)),
      get asserted() {
        return holders.has(self);
      },
      assert() {
        holders.add(self);
        level();
      },
      deassert() {
        holders.delete(self);
        level();
      },
      pulse() {
        server.setIsaIrqLevel(irq, true);
        level();
      },
    };
  }

  private serial(index: number): SerialLine | undefined {
    const kind = this.config.serial[index];
    if (kind === undefined || kind === 'none') return undefined;
    const known = this.serials.get(index);
    if (known !== undefined) return known;
    if (kind !== 'pty' || index !== 0) {
      this.deps.log.warn(`dom${this.domid}: serial[${index}] = "${kind}" is not connected (only the first serial port, as "pty", reaches the console)`);
      return undefined;
    }
    const line = this.deps.consoles?.attachSerial(this.domid);
    if (line !== undefined) this.serials.set(index, line);
    return line;
  }

  private timer(owner: string, at: number, fn: () => void): () => void {
    const { engine, tasks } = this.deps;
    let cancelled = false;
    const handle = engine.at(Math.max(at, engine.now), () => {
      this.timers.delete(cancel);
      if (cancelled) return;
      const job = tasks.submit(`device-model dom${this.domid}: ${owner} timer`, (v) => this.timerTask(v, owner, () => !cancelled, fn));
      job.onSettled((j) => j.error && this.deps.log.error(`dom${this.domid}: ${owner} timer task failed: ${j.error.message}`));
    });
    const cancel = (): void => {
      if (cancelled) return;
      cancelled = true;
      this.timers.delete(cancel);
      engine.cancel(handle);
    };
    this.timers.add(cancel);
    return cancel;
  }

  private *timerTask(v: VcpuApi, owner: string, live: () => boolean, fn: () => void): Generator<never, void, unknown> {
    if (this.stopped || !live()) return;
    v.compute(TIMER_CYCLES);
    this.current = v;
    try {
      fn();
    } catch (error) {
      this.deps.log.error(`dom${this.domid}: device ${owner} failed in its timer: ${message(error)}`);
    } finally {
      this.current = undefined;
    }
  }

  /** The notification on a vCPU's ioreq port: queue the coalesced ioreq task. */
  private request(vcpu: number): void {
    if (this.stopped) return;
    this.pending.add(vcpu);
    if (this.taskQueued) return;
    this.taskQueued = true;
    const job = this.deps.tasks.submit(`device-model dom${this.domid}: ioreq`, (v) => this.ioreqTask(v));
    job.onSettled((j) => j.error && this.deps.log.error(`dom${this.domid}: ioreq task failed: ${j.error.message}`));
  }

  private *ioreqTask(v: VcpuApi): Generator<never, void, unknown> {
    this.taskQueued = false;
    const vcpus = [...this.pending].sort((a, b) => a - b);
    this.pending.clear();
    if (this.stopped) return;
    const { server, log } = this.deps;
    this.current = v;
    try {
      for (const vcpu of vcpus) {
        const target = { read: this.bus.read.bind(this.bus), write: this.bus.write.bind(this.bus), memory: server.guestMemory, warn: (text: string) => log.warn(`dom${this.domid} vcpu${vcpu}: ${text}`) };
        const reps = handleIoreq(server.page, vcpu, target);
        if (reps === 0) {
          log.debug(`dom${this.domid} vcpu${vcpu}: notified without a ready ioreq`);
          continue;
        }
        this.requests++;
        v.charge('emulatedIo');
        if (reps > 1) v.charge('memoryAccess', reps - 1);
        try {
          server.complete(vcpu);
        } catch (error) {
          log.warn(`dom${this.domid} vcpu${vcpu}: completing the ioreq failed: ${message(error)}`);
        }
      }
    } finally {
      this.current = undefined;
    }
  }

  private fault(f: DeviceFault): void {
    this.deps.log.error(`dom${this.domid}: device ${f.owner} failed on ${f.space} 0x${f.addr.toString(16)}: ${message(f.error)}`);
  }
}
