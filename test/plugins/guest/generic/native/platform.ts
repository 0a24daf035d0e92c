/**
 * A small HVM platform for the native drivers' tests: the core's own local APIC and IO-APIC (real
 * register models), plus register-level fakes of the PC devices brief C models for real (PCI host
 * bridge with the Xen platform device, unplug ports, 16550A, i8254, MC146818), behind a VcpuApi whose
 * I/O is counted as VM exits. Each exit takes EXIT_NS of virtual time.
 */
import { Engine } from '../../../../../core/engine/engine.js';
import { LocalApic } from '../../../../../core/apic/local-apic.js';
import { ApicBus } from '../../../../../core/apic/apic-bus.js';
import { IoApic } from '../../../../../core/apic/io-apic.js';
import { apicMmioHandler } from '../../../../../core/apic/apic-access.js';
import { GuestAccessBase } from '../../../../../core/memory/guest-access.js';
import type { CpuidResult, IoHandler, MmioHandler, VcpuApi, VcpuContext, VcpuRequest } from '../../../../../core/api/index.js';
import { EVTCHNOP, HVMOP, Hypercall, XENFEAT, XENVER, XEN_HVM_CPUID } from '../../../../../core/public/index.js';
import { BiosSmap, HVM_BOOT_METADATA_MAGIC, HvmBootMetadata } from '../../../../../core/public/index.js';

export const EXIT_NS = 1000;
const PAGE = 4096;

/** Guest memory as sparse pages (BAR1 sits at 0xf0000000). */
export class SparseMemory extends GuestAccessBase {
  private readonly pages = new Map<number, Uint8Array>();
  read(addr: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.pages.get(Math.floor((addr + i) / PAGE))?.[(addr + i) % PAGE] ?? 0;
    return out;
  }
  write(addr: number, data: Uint8Array): void {
    data.forEach((b, i) => {
      const n = Math.floor((addr + i) / PAGE);
      let p = this.pages.get(n);
      if (!p) this.pages.set(n, (p = new Uint8Array(PAGE)));
      p[(addr + i) % PAGE] = b;
    });
  }
}

/** One PCI function's configuration space, with BAR size masks. */
export class FakePciFunction {
  readonly cfg = new Uint8Array(256);
  private readonly view = new DataView(this.cfg.buffer);
  constructor(vendor: number, device: number, cls: number, subclass: number, readonly barSizes: number[] = []) {
    this.view.setUint16(0, vendor, true);
    this.view.setUint16(2, device, true);
    this.cfg[0x0b] = cls;
    this.cfg[0x0a] = subclass;
    this.cfg[0x08] = 1;
  }
  setBar(i: number, value: number): this {
    this.view.setUint32(0x10 + 4 * i, value >>> 0, true);
    return this;
  }
  set(reg: number, size: 1 | 2 | 4, value: number): this {
    if (size === 1) this.cfg[reg] = value;
    else if (size === 2) this.view.setUint16(reg, value, true);
    else this.view.setUint32(reg, value >>> 0, true);
    return this;
  }
  read(reg: number, size: number): number {
    return size === 1 ? this.cfg[reg]! : size === 2 ? this.view.getUint16(reg, true) : this.view.getUint32(reg, true);
  }
  write(reg: number, size: number, value: number): void {
    const bar = (reg - 0x10) >> 2;
    if (reg >= 0x10 && reg < 0x28 && size === 4) {
      const sz = this.barSizes[bar] ?? 0;
      const flags = this.view.getUint32(reg, true) & (this.view.getUint32(reg, true) & 1 ? 0x3 : 0xf);
      this.view.setUint32(reg, sz === 0 ? 0 : ((value & ~(sz - 1)) | flags) >>> 0, true);
      return;
    }
    this.set(reg, size as 1 | 2 | 4, value);
  }
}

/** Configuration mechanism #1 over functions keyed "slot.func" on bus 0. */
export class FakePciHost implements IoHandler {
  address = 0;
  readonly functions = new Map<string, FakePciFunction>();
  private target(): [FakePciFunction | undefined, number] {
    if ((this.address & 0x8000_0000) === 0 || ((this.address >> 16) & 0xff) !== 0) return [undefined, 0];
    return [this.functions.get(`${(this.address >> 11) & 31}.${(this.address >> 8) & 7}`), this.address & 0xfc];
  }
  read(offset: number, size: number): number {
    if (offset === 0) return this.address >>> 0;
    const [f, reg] = this.target();
    return f ? f.read(reg + offset - 4, size) : 2 ** (8 * size) - 1;
  }
  write(offset: number, size: number, value: number): void {
    if (offset === 0 && size === 4) this.address = value >>> 0;
    else if (offset >= 4) this.target()[0]?.write(this.target()[1] + offset - 4, size, value);
  }
}

export class FakeUnplug implements IoHandler {
  readonly writes: { port: number; size: number; value: number }[] = [];
  constructor(readonly version = 1, private readonly blacklist = false) {}
  private registered = false;
  read(offset: number, size: number): number {
    if (offset === 0 && size === 2) return this.registered && this.blacklist ? 0xd249 : 0x49d2;
    if (offset === 2 && size === 1) return this.version;
    return 0xff;
  }
  write(offset: number, size: number, value: number): void {
    this.writes.push({ port: 0x10 + offset, size, value });
    if (offset === 0 && size === 4) this.registered = true;
  }
}

/** A 16550A: TX goes to `tx`, `type()` fills the RX FIFO and pulses IRQ 4. */
export class FakeUart implements IoHandler {
  tx = '';
  private rx: number[] = [];
  private regs = new Uint8Array(8);
  private dlab = false;
  private threPending = false;
  constructor(private readonly irq: (pin: number) => void) {}
  type(text: string): void {
    this.rx.push(...new TextEncoder().encode(text));
    if (this.regs[1]! & 1) this.irq(4);
  }
  read(offset: number): number {
    if (this.dlab && offset < 2) return this.regs[offset]!;
    switch (offset) {
      case 0: return this.rx.shift() ?? 0;
      case 2:
        if (this.rx.length > 0 && this.regs[1]! & 1) return 0xc4;
        if (this.threPending) { this.threPending = false; return 0xc2; }
        return this.regs[2]! & 1 ? 0xc1 : 0x01;
      case 5: return 0x60 | (this.rx.length > 0 ? 1 : 0);
      default: return this.regs[offset]!;
    }
  }
  write(offset: number, _size: number, value: number): void {
    if (offset === 3) this.dlab = (value & 0x80) !== 0;
    if (offset === 0 && !this.dlab) this.tx += String.fromCharCode(value);
    else if (offset === 1 && !this.dlab && value & 2) this.threPending = true;
    this.regs[offset === 2 ? 2 : offset] = offset === 2 ? value & 1 : value;
  }
}

/** An i8254 whose channel 0 runs in mode 2 on the engine's clock. */
export class FakePit implements IoHandler {
  private count = 0x10000;
  private loaded = 0;
  private writeLow: number | undefined;
  private latch: number[] = [];
  constructor(private readonly engine: Engine) {}
  private current(): number {
    const ticks = Math.floor(((this.engine.now - this.loaded) * 1_193_182) / 1e9);
    return (this.count - (ticks % this.count)) & 0xffff;
  }
  read(offset: number): number {
    return offset === 0 ? this.latch.shift() ?? this.current() & 0xff : 0xff;
  }
  write(offset: number, _size: number, value: number): void {
    if (offset === 3 && (value & 0x30) === 0) {
      const c = this.current();
      this.latch = [c & 0xff, c >> 8];
    } else if (offset === 0) {
      if (this.writeLow === undefined) this.writeLow = value;
      else {
        this.count = ((value << 8) | this.writeLow) || 0x10000;
        this.writeLow = undefined;
        this.loaded = this.engine.now;
      }
    }
  }
}

/** An MC146818 holding 2024-05-17 13:45:30 in BCD, 24-hour mode. */
export class FakeRtc implements IoHandler {
  index = 0;
  readonly cmos = new Uint8Array(128);
  constructor() {
    Object.entries({ 0: 0x30, 2: 0x45, 4: 0x13, 7: 0x17, 8: 0x05, 9: 0x24, 0x0a: 0x26, 0x0b: 0x02, 0x0d: 0x80, 0x32: 0x20 }).forEach(([r, v]) => (this.cmos[Number(r)] = v));
  }
  read(offset: number): number {
    return offset === 1 ? this.cmos[this.index]! : 0xff;
  }
  write(offset: number, _size: number, value: number): void {
    if (offset === 0) this.index = value & 0x7f;
  }
}

interface Range<H> { start: number; length: number; handler: H }

export interface PlatformOptions {
  /** Put the Xen platform device at 00:02.0 and the unplug ports at 0x10. */
  platformDevice?: boolean;
  /** Answer the Xen CPUID leaves. */
  xen?: boolean;
  unplugVersion?: number;
}

/** The fake vCPU and its machine. */
export class FakeHvm {
  readonly engine = new Engine();
  readonly bus = new ApicBus();
  readonly lapic = new LocalApic(this.engine, { apicId: 0, bsp: true });
  readonly ioapic = new IoApic(this.bus);
  readonly memory = new SparseMemory();
  readonly pci = new FakePciHost();
  readonly uart = new FakeUart((pin) => this.ioapic.pulse(pin));
  readonly pit = new FakePit(this.engine);
  readonly rtc = new FakeRtc();
  readonly unplug: FakeUnplug;
  readonly exits = { pioIn: 0, pioOut: 0, mmioRead: 0, mmioWrite: 0 };
  readonly hypercalls: { nr: number; args: number[] }[] = [];
  readonly hvmParams = new Map<number, bigint>();
  readonly msrWrites: [number, bigint][] = [];
  private readonly ports: Range<IoHandler>[] = [];
  private readonly mmio: Range<MmioHandler>[] = [];
  readonly v: VcpuApi;

  constructor(readonly options: PlatformOptions = {}) {
    this.bus.attach(this.lapic);
    this.unplug = new FakeUnplug(options.unplugVersion ?? 1);
    this.ports.push({ start: 0xcf8, length: 8, handler: this.pci }, { start: 0x3f8, length: 8, handler: this.uart }, { start: 0x40, length: 4, handler: this.pit }, { start: 0x70, length: 2, handler: this.rtc });
    this.mmio.push({ start: 0xfee0_0000, length: 0x1000, handler: apicMmioHandler(this.lapic) }, { start: 0xfec0_0000, length: 0x20, handler: this.ioapic.mmio });
    this.pci.functions.set('0.0', new FakePciFunction(0x8086, 0x1237, 6, 0));
    if (options.platformDevice) {
      this.ports.push({ start: 0x10, length: 4, handler: this.unplug });
      const f = new FakePciFunction(0x5853, 0x0001, 0xff, 0x80, [0x100, 0x100_0000]).setBar(0, 0xc001).setBar(1, 0xf000_0008).set(0x3c, 1, 11).set(0x3d, 1, 1).set(4, 2, 3);
      this.pci.functions.set('2.0', f);
    }
    this.v = this.makeVcpu();
    this.writeBootMetadata(0x8000, 'console=uart');
  }

  private find<H>(ranges: Range<H>[], addr: number): Range<H> | undefined {
    return ranges.find((r) => addr >= r.start && addr < r.start + r.length);
  }

  /** The firmware's hand-off at `at`: RAM 0-640K and 1M-16M, the command line. */
  writeBootMetadata(at: number, cmdline: string): void {
    const m = this.memory;
    const smap = [[0, 0xa0000, 1], [0xf0000, 0x10000, 2], [0x10_0000, 0xf0_0000, 1]] as const;
    m.writeU32(at + HvmBootMetadata.magic, HVM_BOOT_METADATA_MAGIC);
    m.writeU32(at + HvmBootMetadata.version, 1);
    m.writeU32(at + HvmBootMetadata.smapOffset, HvmBootMetadata.size);
    m.writeU32(at + HvmBootMetadata.smapEntries, smap.length);
    smap.forEach(([base, len, type], i) => {
      const e = at + HvmBootMetadata.size + i * BiosSmap.size;
      m.writeU64(e + BiosSmap.base, base);
      m.writeU64(e + BiosSmap.length, len);
      m.writeU32(e + BiosSmap.type, type);
    });
    const cmdAt = HvmBootMetadata.size + smap.length * BiosSmap.size;
    m.writeU32(at + HvmBootMetadata.cmdlineOffset, cmdAt);
    m.writeU32(at + HvmBootMetadata.cmdlineLength, cmdline.length);
    m.write(at + cmdAt, new TextEncoder().encode(cmdline));
  }

  private exit(): void {
    this.engine.runFor(EXIT_NS);
  }

  private cpuid(leaf: number): CpuidResult {
    if (!this.options.xen) return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
    if (leaf === 0x4000_0000) return { eax: 0x4000_0005, ebx: 0x566e6558, ecx: 0x65584d4d, edx: 0x4d4d566e };
    if (leaf === 0x4000_0002) return { eax: 1, ebx: 0x4000_0000, ecx: 0, edx: 0 };
    if (leaf === 0x4000_0004) return { eax: XEN_HVM_CPUID.UPCALL_VECTOR, ebx: 0, ecx: 0, edx: 0 };
    return { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  }

  private hypercall(nr: number, a0 = 0, a1 = 0): number {
    this.hypercalls.push({ nr, args: [a0, a1] });
    const m = this.memory;
    if (nr === Hypercall.xen_version) {
      if (a0 === XENVER.version) return (4 << 16) | 17;
      if (a0 === XENVER.extraversion) m.write(a1, new TextEncoder().encode('.0\0'));
      if (a0 === XENVER.get_features) m.writeU32(a1 + 4, 1 << XENFEAT.hvm_callback_vector);
      return 0;
    }
    if (nr === Hypercall.hvm_op && a0 === HVMOP.set_param) this.hvmParams.set(m.readU32(a1 + 4), m.readU64Big(a1 + 8));
    if (nr === Hypercall.hvm_op && a0 === HVMOP.get_param) m.writeU64Big(a1 + 8, this.hvmParams.get(m.readU32(a1 + 4)) ?? 0n);
    if (nr === Hypercall.event_channel_op && a0 === EVTCHNOP.bind_virq) m.writeU32(a1 + 8, 3);
    if (nr === Hypercall.event_channel_op && a0 === EVTCHNOP.bind_ipi) m.writeU32(a1 + 4, 4);
    return 0;
  }

  /** Hypercalls made with `nr` (and sub-op `op`). */
  count(nr: number, op?: number): number {
    return this.hypercalls.filter((h) => h.nr === nr && (op === undefined || h.args[0] === op)).length;
  }

  private makeVcpu(): VcpuApi {
    const hvm = this;
    const regs = { rdi: 0x8000, rbx: 0, rsi: 0, cr3: 0 } as unknown as VcpuContext;
    const v = {
      domid: 1,
      vcpuId: 0,
      get now() { return hvm.engine.now; },
      regs,
      memory: this.memory,
      compute() {},
      charge() {},
      hypercall: (nr: number, a0?: number, a1?: number) => this.hypercall(nr, a0, a1),
      *hypercallBlocking(nr: number, a0?: number, a1?: number) { return hvm.hypercall(nr, a0, a1); },
      halt: () => ({ op: 'halt' }) as VcpuRequest,
      block: () => ({ op: 'block' }) as VcpuRequest,
      preempt: () => ({ op: 'preempt' }) as VcpuRequest,
      sleepUntil: (until: number) => ({ op: 'sleep', until }) as VcpuRequest,
      sleepFor: (ns: number) => ({ op: 'sleep', until: hvm.engine.now + ns }) as VcpuRequest,
      cpuid: (leaf: number) => this.cpuid(leaf),
      rdmsr: () => 0n,
      wrmsr: (msr: number, value: bigint) => void this.msrWrites.push([msr, value]),
      *inPort(port: number, size: number) {
        hvm.exits.pioIn++;
        hvm.exit();
        const r = hvm.find(hvm.ports, port);
        return r ? r.handler.read(port - r.start, size as 1) : 2 ** (8 * size) - 1;
      },
      *outPort(port: number, size: number, value: number) {
        hvm.exits.pioOut++;
        hvm.exit();
        const r = hvm.find(hvm.ports, port);
        r?.handler.write(port - r.start, size as 1, value);
      },
      *mmioRead(addr: number, size: number) {
        hvm.exits.mmioRead++;
        hvm.exit();
        const r = hvm.find(hvm.mmio, addr);
        return r ? r.handler.read(addr - r.start, size as 4) : 0xffff_ffff;
      },
      *mmioWrite(addr: number, size: number, value: number) {
        hvm.exits.mmioWrite++;
        hvm.exit();
        const r = hvm.find(hvm.mmio, addr);
        r?.handler.write(addr - r.start, size as 4, value);
      },
      acceptInterrupt: () => (this.lapic.pendingVector === undefined ? -1 : this.lapic.acknowledge()),
      privileged: () => 0,
    };
    return v as unknown as VcpuApi;
  }

  /** Exits so far, all kinds. */
  get totalExits(): number {
    return this.exits.pioIn + this.exits.pioOut + this.exits.mmioRead + this.exits.mmioWrite;
  }

  /**
   * Runs a program: `halt` waits for a deliverable LAPIC interrupt (running engine events), `sleep`
   * runs time to its end. Returns 'done', 'idle' (halted with nothing left to happen) or 'limit'.
   */
  run<T>(gen: Generator<VcpuRequest, T, unknown>, limitNs = 1e9): { state: 'done' | 'idle' | 'limit'; value?: T } {
    const until = this.engine.now + limitNs;
    let step = gen.next('continue');
    while (!step.done) {
      const req = step.value;
      if (this.engine.now >= until) return { state: 'limit' };
      if (req.op === 'halt' || req.op === 'block') {
        while (this.lapic.pendingVector === undefined) {
          const next = this.engine.queue.peekTime();
          if (next === Infinity || next > until) return { state: next === Infinity ? 'idle' : 'limit' };
          this.engine.runUntil(next);
        }
        step = gen.next('event');
      } else if (req.op === 'sleep') {
        this.engine.runUntil(Math.min(until, req.until));
        step = gen.next('timeout');
      } else step = gen.next('continue');
    }
    return { state: 'done', value: step.value };
  }
}
