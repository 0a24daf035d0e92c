/**
 * A native guest kernel driving real device models, for the emulated-device drivers' tests: the core's
 * LAPIC and IO-APIC (48 pins, as Xen's vIOAPIC), a device-model run (the host's DeviceModelRun on the
 * test rig's fake ioreq server, tasks and clock), and a vCPU whose port I/O goes through the ioreq page
 * to that run — each access a counted VM exit taking EXIT_NS. Memory is shared by guest and devices.
 */
import { Engine } from '../../../../../core/engine/engine.js';
import { ApicBus } from '../../../../../core/apic/apic-bus.js';
import { IoApic } from '../../../../../core/apic/io-apic.js';
import { LocalApic } from '../../../../../core/apic/local-apic.js';
import { apicMmioHandler } from '../../../../../core/apic/apic-access.js';
import { createLogger, MemoryLogSink, type DeviceModel, type DomainConfig, type VcpuApi, type VcpuContext, type VcpuRequest } from '../../../../../core/api/index.js';
import { ByteArrayGuestAccess } from '../../../../../core/testing/index.js';
import { DeviceModelRun } from '../../../../../plugins/dom0/device-model/instance.js';
import { pciIntxGsi } from '../../../../../plugins/dom0/device-model/pci-bus.js';
import { Kernel } from '../../../../../plugins/guest/generic/kern/kernel.js';
import { PhysAllocator } from '../../../../../plugins/guest/generic/kern/vm_phys.js';
import { parseKernelConfig } from '../../../../../plugins/guest/generic/conf/config.js';
import { IntrVectors } from '../../../../../plugins/guest/generic/x86/intr.js';
import { IoApicDriver, IsaInterrupts } from '../../../../../plugins/guest/generic/x86/io_apic.js';
import { LocalApicDriver } from '../../../../../plugins/guest/generic/x86/local_apic.js';
import { NativeEvents } from '../../../../../plugins/guest/generic/x86/native_events.js';
import { FakeServer, FakeTasks, Guest, hvmConfig, type FakeClock } from '../../../dom0/device-model/fakes.js';

/** Virtual time one VM exit takes. */
export const EXIT_NS = 2000;
const MEMORY = 16 << 20;

/** The fake ioreq server with its interrupt levels wired to an IO-APIC and a larger guest memory. */
class WiredServer extends FakeServer {
  override readonly guestMemory = new ByteArrayGuestAccess(MEMORY);
  constructor(private readonly ioapic: IoApic) {
    super(5);
  }
  override setIsaIrqLevel(irq: number, high: boolean): void {
    super.setIsaIrqLevel(irq, high);
    this.ioapic.setLevel(irq === 0 ? 2 : irq, high);
  }
  override setPciIntxLevel(device: number, intx: number, high: boolean): void {
    super.setPciIntxLevel(device, intx, high);
    this.ioapic.setLevel(pciIntxGsi(device, intx), high);
  }
}

export class DmMachine {
  readonly engine = new Engine();
  readonly bus = new ApicBus();
  readonly lapic = new LocalApic(this.engine, { apicId: 0, bsp: true });
  readonly ioapic = new IoApic(this.bus, { pins: 48 });
  readonly server = new WiredServer(this.ioapic);
  readonly logs = new MemoryLogSink();
  readonly tasks: FakeTasks;
  readonly run: DeviceModelRun;
  /** Xen's side of the ioreq page (what a VM exit to the device model does). */
  readonly xen: Guest;
  readonly exits = { pio: 0, mmio: 0 };
  readonly v: VcpuApi;
  readonly k: Kernel;
  readonly intr: IntrVectors;
  readonly lapicDriver: LocalApicDriver;
  readonly ioapicDriver: IoApicDriver;
  readonly isa: IsaInterrupts;
  /** The deadline the kernel's event timer is armed for (a halt ends there). */
  private armed = 0;

  constructor(models: DeviceModel[], config: DomainConfig = hvmConfig(), devices = 'device ata\ndevice rl\n') {
    this.bus.attach(this.lapic);
    const clock = this.engine as unknown as FakeClock;
    this.tasks = new FakeTasks(clock);
    this.run = new DeviceModelRun(5, config, 'hvm', { server: this.server, tasks: this.tasks, engine: this.engine, models, log: createLogger('device-model', this.logs.sink, () => this.engine.now, 'debug') });
    this.run.createDevices();
    this.xen = new Guest(this.server);
    this.v = this.makeVcpu();
    this.k = new Kernel(this.v, { prompt: '# ', tickUs: 1000, kernconfDir: '', consoleDrainMs: 100 }, parseKernelConfig('TEST', `cpu HAMMER\nident TEST\n${devices}`));
    this.k.phys = new PhysAllocator([{ start: 0x100, end: MEMORY / 4096 }], []);
    this.lapicDriver = new LocalApicDriver(this.v);
    this.intr = new IntrVectors(this.v, () => this.lapicDriver.eoi());
    this.k.bsp.events = new NativeEvents(this.v, this.intr, (deadline) => (this.armed = deadline), () => 0);
    this.ioapicDriver = new IoApicDriver(this.v);
    this.isa = new IsaInterrupts(this.ioapicDriver, this.intr, 0);
  }

  /** The firmware's PCI pass, reduced: BARs of device `slot` placed (I/O at `io`, memory at `mem`) and decoding on; the GSI in the interrupt line. */
  placeBars(slot: number, io: number, mem?: number): void {
    for (let i = 0; i < 6; i++) {
      const reg = 0x10 + 4 * i;
      this.xen.cfgWrite(slot, reg, 4, 0xffff_ffff);
      const mask = this.xen.cfgRead(slot, reg, 4);
      if (mask === 0) continue;
      this.xen.cfgWrite(slot, reg, 4, mask & 1 ? io : (mem ?? 0));
    }
    const pin = this.xen.cfgRead(slot, 0x3d, 1);
    if (pin > 0) this.xen.cfgWrite(slot, 0x3c, 1, pciIntxGsi(slot, pin - 1));
    this.xen.cfgWrite(slot, 0x04, 2, 0x3);
  }

  private makeVcpu(): VcpuApi {
    const m = this;
    const lapicMmio = apicMmioHandler(this.lapic);
    const mmio = (addr: number): { start: number; h: { read(o: number, s: number): number; write(o: number, s: number, v: number): void } } | undefined =>
      addr >= 0xfee0_0000 && addr < 0xfee0_1000 ? { start: 0xfee0_0000, h: lapicMmio as never } : addr >= 0xfec0_0000 && addr < 0xfec0_0020 ? { start: 0xfec0_0000, h: this.ioapic.mmio as never } : undefined;
    const v = {
      domid: 5,
      vcpuId: 0,
      get now() {
        return m.engine.now;
      },
      regs: {} as VcpuContext,
      memory: this.server.guestMemory,
      compute() {},
      charge() {},
      halt: () => ({ op: 'halt' }) as VcpuRequest,
      preempt: () => ({ op: 'preempt' }) as VcpuRequest,
      *inPort(port: number, size: 1 | 2 | 4) {
        m.exit('pio');
        return m.xen.in(port, size);
      },
      *outPort(port: number, size: 1 | 2 | 4, value: number) {
        m.exit('pio');
        m.xen.out(port, size, value);
      },
      *mmioRead(addr: number, size: number) {
        m.exit('mmio');
        const r = mmio(addr);
        return r ? r.h.read(addr - r.start, size) : 0xffff_ffff;
      },
      *mmioWrite(addr: number, size: number, value: number) {
        m.exit('mmio');
        const r = mmio(addr);
        r?.h.write(addr - r.start, size, value);
      },
      acceptInterrupt: () => (m.lapic.pendingVector === undefined ? -1 : m.lapic.acknowledge()),
    };
    return v as unknown as VcpuApi;
  }

  private exit(kind: 'pio' | 'mmio'): void {
    this.exits[kind]++;
    this.engine.runFor(EXIT_NS);
  }

  /** VM exits so far. */
  get totalExits(): number {
    return this.exits.pio + this.exits.mmio;
  }

  /** Sets up the LAPIC and IO-APIC as hvmBoot does. */
  *platform(): Generator<VcpuRequest, void, unknown> {
    yield* this.lapicDriver.setup();
    yield* this.ioapicDriver.attach();
  }

  /**
   * Runs a kernel program: a halt waits for a deliverable interrupt (running engine events, device-model
   * timers among them) or the armed deadline. Throws when it stops short of its end.
   */
  exec<T>(gen: Generator<VcpuRequest, T, unknown>, limitNs = 60e9): T {
    const until = this.engine.now + limitNs;
    let step = gen.next('continue');
    while (!step.done) {
      if (this.engine.now >= until) throw new Error(`program still running after ${limitNs} ns\n${this.k.msgbuf.contents()}`);
      if (step.value.op === 'halt') {
        while (this.lapic.pendingVector === undefined && !(this.armed > 0 && this.engine.now >= this.armed)) {
          const next = Math.min(this.engine.queue.peekTime(), this.armed > 0 ? this.armed : Infinity, until);
          if (next === Infinity) throw new Error(`halted with nothing left to happen\n${this.k.msgbuf.contents()}`);
          this.engine.runUntil(next);
        }
        this.armed = 0;
        step = gen.next('event');
      } else step = gen.next('continue');
    }
    return step.value;
  }
}
