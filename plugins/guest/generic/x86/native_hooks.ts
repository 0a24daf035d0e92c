/**
 * The native variants of the boot-time hooks (kern/hooks.ts) for HVM guests: the local APIC timer
 * calibrated against the i8254, the firmware's E820 map, INIT-SIPI-SIPI to the MADT's processors, IPIs
 * through the ICR, and the kernel's own page tables. A PVHVM kernel keeps the native memory map, AP
 * start-up and pmap but takes Xen's clock and IPIs (boot/xen_hooks.ts).
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { I8254 } from '../dev/attimer/i8254.js';
import type { Madt } from '../dev/acpi/tables.js';
import type { ApStartHooks, ClockHooks, IpiHooks, MemoryMapHooks, PmapHooks } from '../kern/hooks.js';
import type { Kernel } from '../kern/kernel.js';
import { armOnce, type Pcpu } from '../kern/pcpu.js';
import { IntrVectors } from './intr.js';
import { APIC_TIMER_INT, LocalApicDriver } from './local_apic.js';
import { NativeEvents } from './native_events.js';

/** How long the LAPIC timer is measured against the PIT (FreeBSD uses 1 s; a short window keeps exits down). */
export const LAPIC_CALIBRATE_US = 2_000;
/** The IPI vector (FreeBSD's IPI_AST neighbourhood). */
export const IPI_VECTOR = 0xf1;

/**
 * Runs a local APIC access to completion at once. The LAPIC is emulated in the hypervisor, so its
 * accesses never wait for a device model: the hooks that must not block (arming, IPIs) can make them.
 */
export function lapicNow<T>(access: Generator<VcpuRequest, T, unknown>, what: string): T {
  const step = access.next();
  if (!step.done) throw new Error(`lapic: ${what} waited for a device model; the local APIC must be emulated in the hypervisor`);
  return step.value;
}

/** One CPU's native interrupt hardware: its own local APIC driver and vector table. */
export interface NativeCpu {
  readonly lapic: LocalApicDriver;
  readonly intr: IntrVectors;
}

/** Work an AP does on itself after its LAPIC is up, before its clock and IPIs (PVHVM: its own callback vector). */
export type ApSetup = (k: Kernel, cpu: Pcpu, c: NativeCpu) => Generator<VcpuRequest, void, unknown>;

/**
 * What the native hooks of one kernel share: the boot CPU's LAPIC driver and vectors, the PIT, each
 * AP's own {@link NativeCpu}, and the CPUs the MADT lists (FreeBSD's cpu_apic_ids: CPU n's APIC ID).
 */
export class NativeMachine {
  private readonly cpus = new Map<number, NativeCpu>();
  /** APIC IDs by CPU id: the boot CPU's first, then the MADT's other enabled processors in table order. */
  private apicIds: number[];
  /** Run on each AP by {@link nativeApStart}'s `apInit`, in order. */
  readonly apSetup: ApSetup[] = [];

  constructor(
    readonly lapic: LocalApicDriver,
    readonly intr: IntrVectors,
    readonly pit: I8254,
    bspApicId = 0,
  ) {
    this.cpus.set(0, { lapic, intr });
    this.apicIds = [bspApicId];
  }

  /** Takes the CPUs from the MADT's enabled Processor Local APIC entries (madt_setup_cpus). */
  useMadt(madt: Madt): void {
    const bsp = this.apicIds[0]!;
    this.apicIds = [bsp, ...madt.lapics.filter((l) => l.enabled && l.apicId !== bsp).map((l) => l.apicId)];
  }

  /** CPUs known: 1 without a MADT. */
  get cpuCount(): number {
    return this.apicIds.length;
  }

  /** CPU `id`'s APIC ID. */
  apicIdOf(id: number): number {
    const apicId = this.apicIds[id];
    if (apicId === undefined) throw new Error(`no CPU ${id} in the MADT (${this.apicIds.length} enabled)`);
    return apicId;
  }

  /** CPU `cpu`'s LAPIC driver and vectors. */
  of(cpu: Pcpu): NativeCpu {
    const c = this.cpus.get(cpu.id);
    if (c === undefined) throw new Error(`lapic: cpu${cpu.id} has no LAPIC driver yet`);
    return c;
  }

  /** Records AP `id`'s own LAPIC driver and vectors. */
  add(id: number, c: NativeCpu): void {
    this.cpus.set(id, c);
  }
}

/** lapic_et: one-shot LAPIC timer per CPU, calibrated once on the boot CPU (APs take its frequency, as FreeBSD's do). */
export function lapicClock(m: NativeMachine): ClockHooks {
  return {
    name: 'lapic (LAPIC timer one-shot, calibrated against the i8254)',
    *cpuInit(k, cpu) {
      const c = m.of(cpu);
      if (cpu.id === 0) {
        const hz = yield* m.lapic.calibrate((us) => m.pit.delay(us), LAPIC_CALIBRATE_US);
        k.printf(`lapic: timer frequency ${hz} Hz (measured over ${LAPIC_CALIBRATE_US} us of i8254 ticks)`);
        k.printf(`Event timer "LAPIC" quality 600`);
      } else if (c.lapic.timerHz === 0) {
        throw new Error(`lapic: cpu${cpu.id}: timer frequency unknown (the boot CPU did not calibrate)`);
      }
      cpu.timerPort = APIC_TIMER_INT;
      c.intr.bind(APIC_TIMER_INT, { name: `cpu${cpu.id}:timer`, *handle() {} });
    },
    nanouptime: (cpu) => cpu.v.now,
    arm(cpu, deadline) {
      lapicNow(m.of(cpu).lapic.timerOneShot(Math.max(1, deadline - cpu.v.now)), 'timer arm');
    },
    source: (cpu) => `cpu${cpu.id}:timer (lapic vector 0x${APIC_TIMER_INT.toString(16)})`,
    fired: (cpu) => cpu.events.consume(APIC_TIMER_INT),
  };
}

/** lapic_ipi_vectored: fixed IPIs through the sender's ICR to the target's APIC ID. */
export function lapicIpi(m: NativeMachine): IpiHooks {
  return {
    name: 'lapic_ipi (LAPIC ICR)',
    cpuInit(_k, cpu) {
      cpu.ipiPort = IPI_VECTOR;
      m.of(cpu).intr.bind(IPI_VECTOR, { name: `cpu${cpu.id}:ipi`, *handle() {} });
    },
    send(from, to) {
      lapicNow(m.of(from).lapic.ipi(m.apicIdOf(to.id), IPI_VECTOR), `IPI to cpu${to.id}`);
    },
    received: (cpu) => cpu.events.consume(IPI_VECTOR),
  };
}

/**
 * native_start_all_aps: the MADT's enabled processors are the CPUs; each AP gets INIT-SIPI-SIPI to its
 * APIC ID with the SIPI vector naming the kernel's AP entry page. On the AP, `apInit` brings up its own
 * LAPIC (lapic_setup, the boot CPU's timer frequency) and vectors, and waits with HLT on them.
 */
export function nativeApStart(m: NativeMachine): ApStartHooks {
  return {
    name: 'native_start_ap (INIT-SIPI-SIPI)',
    countCpus: (_k, max) => Math.max(1, Math.min(max, m.cpuCount)),
    *startAp(k: Kernel, id: number) {
      if (k.apEntry === 0) throw new Error('no AP entry point');
      yield* m.lapic.startAp(m.apicIdOf(id), k.apEntry, (us) => m.pit.delay(us));
    },
    *apInit(k, cpu) {
      const v = cpu.v;
      const lapic = new LocalApicDriver(v, m.lapic.base);
      yield* lapic.setup();
      lapic.timerHz = m.lapic.timerHz;
      const intr = new IntrVectors(v, () => lapic.eoi());
      const c: NativeCpu = { lapic, intr };
      m.add(cpu.id, c);
      const arm = (deadline: number): void => lapicNow(lapic.timerOneShot(Math.max(1, deadline - v.now)), 'timer arm');
      cpu.events = new NativeEvents(v, intr, (deadline) => armOnce(cpu, deadline, arm), () => cpu.nextTick);
      k.printf(`lapic${yield* lapic.id()}: cpu${cpu.id} xAPIC at 0x${lapic.base.toString(16)}`);
      for (const setup of m.apSetup) yield* setup(k, cpu, c);
    },
  };
}

export const nativeMemmap: MemoryMapHooks = {
  name: 'native_parse_memmap (SMAP from the firmware)',
  describe(k) {
    return [`avail memory = ${k.phys.freeFrames * 4096} (${Math.floor((k.phys.freeFrames * 4096) / 2 ** 20)} MB)`];
  },
};

export const nativePmap: PmapHooks = {
  name: 'pmap_native (own page tables, HAP or shadow below)',
  describe(k) {
    return `pmap: CR3 0x${k.v.regs.cr3.toString(16)}, native page tables (no PV MMU hypercalls)`;
  },
};
