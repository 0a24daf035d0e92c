/**
 * Fakes for the device-model host's unit tests while the core's ioreq servers are being written: a
 * server that keeps a real `shared_iopage_t` and records what the device model did, Dom0 tasks that run
 * at once on a fake vCPU, and a virtual clock with timers. `Guest` plays Xen's side of an ioreq.
 */
import { createLogger, MemoryLogSink, type DeviceModel, type Dom0Job, type Dom0Tasks, type DomainConfig, type IoreqServer, type VcpuApi } from '../../../../core/api/index.js';
import { ByteArrayGuestAccess } from '../../../../core/testing/index.js';
import { IOREQ_FLAG_DATA_IS_PTR, IOREQ_FLAG_DF, IOREQ_FLAG_DIR_READ, IOREQ_SIZE, IOREQ_STATE, IOREQ_TYPE, Ioreq } from '../../../../core/public/index.js';
import { DeviceModelRun } from '../../../../plugins/dom0/device-model/instance.js';

export class FakeServer implements IoreqServer {
  readonly id = 1;
  readonly page = new Uint8Array(4096);
  readonly ranges: { space: string; start: number; end: number }[] = [];
  readonly completed: number[] = [];
  readonly isa: { irq: number; high: boolean }[] = [];
  readonly intx: { device: number; intx: number; high: boolean }[] = [];
  readonly guestMemory = new ByteArrayGuestAccess(1 << 20);
  destroyed = false;
  private fns: ((vcpu: number) => void)[] = [];
  constructor(readonly domid: number) {}
  onRequest(fn: (vcpu: number) => void): () => void {
    this.fns.push(fn);
    return () => (this.fns = this.fns.filter((f) => f !== fn));
  }
  mapRange(space: 'pio' | 'mmio', start: number, end: number): void {
    this.ranges.push({ space, start, end });
  }
  unmapRange(space: 'pio' | 'mmio', start: number, end: number): void {
    const i = this.ranges.findIndex((r) => r.space === space && r.start === start && r.end === end);
    if (i >= 0) this.ranges.splice(i, 1);
  }
  complete(vcpu: number): void {
    this.completed.push(vcpu);
  }
  setIsaIrqLevel(irq: number, high: boolean): void {
    this.isa.push({ irq, high });
  }
  setPciIntxLevel(device: number, intx: number, high: boolean): void {
    this.intx.push({ device, intx, high });
  }
  injectMsi(): void {}
  destroy(): void {
    this.destroyed = true;
  }
  notify(vcpu: number): void {
    for (const fn of [...this.fns]) fn(vcpu);
  }
  /** ISA IRQ `irq`'s current level. */
  level(irq: number): boolean {
    return this.isa.filter((e) => e.irq === irq).at(-1)?.high ?? false;
  }
  /** Rising edges of ISA IRQ `irq` so far. */
  edges(irq: number): number {
    let last = false;
    let n = 0;
    for (const e of this.isa) if (e.irq === irq) (e.high && !last && n++, (last = e.high));
    return n;
  }
}

/** Virtual time with timers, as the engine offers them. */
export class FakeClock {
  now = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  at(at: number, fn: () => void): { live: boolean } {
    const t = { at, fn, live: true };
    this.timers.push(t);
    return t;
  }
  cancel(handle: unknown): boolean {
    (handle as { live: boolean }).live = false;
    return true;
  }
  /** Runs every timer up to `to`, in time order. */
  advanceTo(to: number): void {
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= to).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.live = false;
      this.now = Math.max(this.now, due.at);
      due.fn();
    }
    this.timers = this.timers.filter((t) => t.live);
    this.now = to;
  }
  advance(ns: number): void {
    this.advanceTo(this.now + ns);
  }
}

/** Dom0 tasks run to completion at once on a vCPU whose clock is the fake clock's. */
export class FakeTasks implements Dom0Tasks {
  charged: Record<string, number> = {};
  cycles = 0;
  names: string[] = [];
  pending = 0;
  constructor(private readonly clock: FakeClock) {}
  submit<T>(name: string, body: (v: VcpuApi) => Generator<never, T, unknown>): Dom0Job<T> {
    this.names.push(name);
    const clock = this.clock;
    const v = {
      get now() {
        return clock.now;
      },
      compute: (c: number) => void (this.cycles += c),
      charge: (cost: string, times = 1) => void (this.charged[cost] = (this.charged[cost] ?? 0) + times),
    } as unknown as VcpuApi;
    let result: T | undefined;
    let error: Error | undefined;
    try {
      const g = body(v);
      let r = g.next();
      while (!r.done) r = g.next();
      result = r.value;
    } catch (e) {
      error = e as Error;
    }
    const job: Dom0Job<T> = { name, state: error ? 'failed' : 'done', result, error, onSettled: (fn) => fn(job) };
    return job;
  }
  waiter(): never {
    throw new Error('not used');
  }
  failed<T>(name: string, error: Error): Dom0Job<T> {
    const job: Dom0Job<T> = { name, state: 'failed', result: undefined, error, onSettled: (fn) => fn(job) };
    return job;
  }
}

/** A domain config as the parser would give it for an HVM guest. */
export function hvmConfig(over: Partial<DomainConfig> = {}): DomainConfig {
  return {
    source: { file: 'test.cfg' },
    name: 'hvm',
    type: 'hvm',
    memoryBytes: 1024 << 20,
    maxmemBytes: 1024 << 20,
    vcpus: 2,
    maxvcpus: 2,
    cpus: 'all',
    disk: [],
    vif: [],
    pci: [],
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onWatchdog: 'destroy',
    onCrash: 'destroy',
    onSoftReset: 'destroy',
    xenPlatformPci: true,
    serial: ['pty'],
    ...over,
  } as DomainConfig;
}

/** Xen's side: writes an ioreq into vCPU `vcpu`'s slot and notifies, then reads the answer. */
export class Guest {
  constructor(
    readonly server: FakeServer,
    readonly vcpu = 0,
  ) {}
  private req(type: number, addr: number, size: number, read: boolean, data: number, opts: { count?: number; ptr?: boolean; df?: boolean } = {}): number {
    const view = new DataView(this.server.page.buffer, this.vcpu * IOREQ_SIZE, IOREQ_SIZE);
    view.setBigUint64(Ioreq.addr, BigInt(addr), true);
    view.setBigUint64(Ioreq.data, BigInt(data), true);
    view.setUint32(Ioreq.count, opts.count ?? 1, true);
    view.setUint32(Ioreq.size, size, true);
    view.setUint8(Ioreq.type, type);
    view.setUint8(Ioreq.flags, IOREQ_STATE.ready | (read ? IOREQ_FLAG_DIR_READ : 0) | (opts.ptr ? IOREQ_FLAG_DATA_IS_PTR : 0) | (opts.df ? IOREQ_FLAG_DF : 0));
    const before = this.server.completed.length;
    this.server.notify(this.vcpu);
    if (this.server.completed.length !== before + 1) throw new Error('ioreq not completed');
    if ((view.getUint8(Ioreq.flags) & 0xf) !== IOREQ_STATE.respReady) throw new Error('state is not IORESP_READY');
    return Number(view.getBigUint64(Ioreq.data, true));
  }
  inb(port: number): number {
    return this.req(IOREQ_TYPE.pio, port, 1, true, 0);
  }
  in(port: number, size: number): number {
    return this.req(IOREQ_TYPE.pio, port, size, true, 0);
  }
  outb(port: number, value: number): void {
    this.req(IOREQ_TYPE.pio, port, 1, false, value);
  }
  out(port: number, size: number, value: number): void {
    this.req(IOREQ_TYPE.pio, port, size, false, value);
  }
  raw(type: number, addr: number, size: number, read: boolean, data: number, opts?: { count?: number; ptr?: boolean; df?: boolean }): number {
    return this.req(type, addr, size, read, data, opts);
  }
  /** PCI config read through mechanism #1. */
  cfgRead(dev: number, reg: number, size: number): number {
    this.out(0xcf8, 4, (0x8000_0000 | (dev << 11) | (reg & 0xfc)) >>> 0);
    return this.in(0xcfc + (reg & 3), size);
  }
  cfgWrite(dev: number, reg: number, size: number, value: number): void {
    this.out(0xcf8, 4, (0x8000_0000 | (dev << 11) | (reg & 0xfc)) >>> 0);
    this.out(0xcfc + (reg & 3), size, value);
  }
}

export interface Rig {
  server: FakeServer;
  clock: FakeClock;
  tasks: FakeTasks;
  logs: MemoryLogSink;
  run: DeviceModelRun;
  guest: Guest;
}

/** A device model run for dom5 on fakes, with `models`. */
export function rig(models: DeviceModel[], config = hvmConfig(), mode: 'hvm' | 'pvhvm' = 'hvm', consoles?: ConstructorParameters<typeof DeviceModelRun>[3]['consoles']): Rig {
  const server = new FakeServer(5);
  const clock = new FakeClock();
  const tasks = new FakeTasks(clock);
  const logs = new MemoryLogSink();
  const log = createLogger('device-model', logs.sink, () => clock.now, 'debug');
  const run = new DeviceModelRun(5, config, mode, { server, tasks, engine: clock as never, models, log, consoles });
  run.createDevices();
  return { server, clock, tasks, logs, run, guest: new Guest(server) };
}
