/**
 * The native variants of the boot-time hooks (kern/hooks.ts) for HVM guests: the local APIC timer
 * calibrated against the i8254, the firmware's E820 map, INIT-SIPI-SIPI, IPIs through the ICR, and the
 * kernel's own page tables. A PVHVM kernel keeps the native memory map, AP start-up and pmap but takes
 * Xen's clock and IPIs (boot/xen_hooks.ts).
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { I8254 } from '../dev/attimer/i8254.js';
import type { ApStartHooks, ClockHooks, IpiHooks, MemoryMapHooks, PmapHooks } from '../kern/hooks.js';
import type { Kernel } from '../kern/kernel.js';
import type { IntrVectors } from './intr.js';
import { APIC_TIMER_INT, LocalApicDriver } from './local_apic.js';

/** How long the LAPIC timer is measured against the PIT (FreeBSD uses 1 s; a short window keeps exits down). */
export const LAPIC_CALIBRATE_US = 2_000;
/** The IPI vector (FreeBSD's IPI_AST neighbourhood). */
export const IPI_VECTOR = 0xf1;
/** Where AP trampolines start (a page below 1 MiB, as the SIPI vector addresses it). */
export const AP_TRAMPOLINE = 0x9_0000;

/**
 * Runs a local APIC access to completion at once. The LAPIC is emulated in the hypervisor, so its
 * accesses never wait for a device model: the hooks that must not block (arming, IPIs) can make them.
 */
export function lapicNow<T>(access: Generator<VcpuRequest, T, unknown>, what: string): T {
  const step = access.next();
  if (!step.done) throw new Error(`lapic: ${what} waited for a device model; the local APIC must be emulated in the hypervisor`);
  return step.value;
}

/** The native hooks of one kernel: they share the boot CPU's LAPIC driver and vector table. */
export interface NativeMachine {
  readonly lapic: LocalApicDriver;
  readonly intr: IntrVectors;
  readonly pit: I8254;
}

/** lapic_et: one-shot LAPIC timer, calibrated on the boot CPU (whose LAPIC the platform boot has set up). */
export function lapicClock(m: NativeMachine): ClockHooks {
  return {
    name: 'lapic (LAPIC timer one-shot, calibrated against the i8254)',
    *cpuInit(k, cpu) {
      if (cpu.id !== 0) throw new Error(`lapic: cpu${cpu.id}: only the boot CPU's LAPIC is driven (no MADT, no APs)`);
      const hz = yield* m.lapic.calibrate((us) => m.pit.delay(us), LAPIC_CALIBRATE_US);
      k.printf(`lapic: timer frequency ${hz} Hz (measured over ${LAPIC_CALIBRATE_US} us of i8254 ticks)`);
      k.printf(`Event timer "LAPIC" quality 600`);
      cpu.timerPort = APIC_TIMER_INT;
      m.intr.bind(APIC_TIMER_INT, { name: `cpu${cpu.id}:timer`, *handle() {} });
    },
    nanouptime: (cpu) => cpu.v.now,
    arm(cpu, deadline) {
      lapicNow(m.lapic.timerOneShot(Math.max(1, deadline - cpu.v.now)), 'timer arm');
    },
    source: (cpu) => `cpu${cpu.id}:timer (lapic vector 0x${APIC_TIMER_INT.toString(16)})`,
    fired: (cpu) => cpu.events.consume(APIC_TIMER_INT),
  };
}

/** lapic_ipi_vectored: fixed IPIs through the ICR. */
export function lapicIpi(m: NativeMachine): IpiHooks {
  return {
    name: 'lapic_ipi (LAPIC ICR)',
    cpuInit(_k, cpu) {
      cpu.ipiPort = IPI_VECTOR;
      m.intr.bind(IPI_VECTOR, { name: `cpu${cpu.id}:ipi`, *handle() {} });
    },
    send(_from, to) {
      lapicNow(m.lapic.ipi(to.id, IPI_VECTOR), `IPI to cpu${to.id}`);
    },
    received: (cpu) => cpu.events.consume(IPI_VECTOR),
  };
}

/** native_start_all_aps. Without an MADT the kernel knows of no AP, so it counts one CPU. */
export function nativeApStart(m: NativeMachine): ApStartHooks {
  return {
    name: 'native_start_ap (INIT-SIPI-SIPI)',
    countCpus: () => 1,
    *startAp(_k: Kernel, id: number) {
      yield* m.lapic.startAp(id, AP_TRAMPOLINE, (us) => m.pit.delay(us));
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
