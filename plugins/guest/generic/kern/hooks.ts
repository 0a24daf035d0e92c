/**
 * The boot-time hooks (FreeBSD's `init_ops`, `apic_ops`, `et`/`tc` and pmap choices, as the FreeBSD
 * Journal article on Xen describes them): early boot learns where the kernel runs and fills one
 * {@link KernelHooks}, and from then on the machine-independent code calls through it. The Xen
 * variants are in boot/xen_hooks.ts; the native ones (PIT/LAPIC, E820, INIT-SIPI, native APIC, native
 * page tables) implement the same interfaces for HVM guests. The boot log and `sysctl machdep.hooks`
 * print each hook's name.
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { Kernel } from './kernel.js';
import type { Pcpu } from './pcpu.js';

/** A hook is named, as the boot log shows it. */
export interface Hook {
  /** E.g. `xentimer`, `hypercall memory map`, `VCPUOP_initialise`. */
  readonly name: string;
}

/**
 * Clock source: the timecounter (what time it is) and the per-CPU event timer driving hardclock.
 * Xen: the PV clock in vcpu_time_info and VCPUOP_set_singleshot_timer with VIRQ_TIMER; native: the
 * TSC/HPET and the PIT or LAPIC timer.
 */
export interface ClockHooks extends Hook {
  /** Prepares CPU `cpu`'s clock (time area, timer interrupt source); runs on that CPU. */
  cpuInit(k: Kernel, cpu: Pcpu): Generator<VcpuRequest, void, unknown>;
  /** System time in ns, as `cpu` reads it. */
  nanouptime(cpu: Pcpu): number;
  /** Arms `cpu`'s timer to fire at system time `deadline` (ns); runs on that CPU. */
  arm(cpu: Pcpu, deadline: number): void;
  /** The interrupt source (event-channel port, LAPIC vector) the timer fires on, for `vmstat -i`. */
  source(cpu: Pcpu): string;
  /** True when the timer fired since the last call (its event was pending); consumes it. */
  fired(cpu: Pcpu): boolean;
}

/** Memory map: where RAM is (Xen: start info / XENMEM_memory_map; native: the E820 table). */
export interface MemoryMapHooks extends Hook {
  /** Lines describing the map, for the boot log. */
  describe(k: Kernel): string[];
}

/** AP start-up: brings CPU `id` up running `entry` (Xen: VCPUOP_initialise + VCPUOP_up; native: INIT-SIPI-SIPI). */
export interface ApStartHooks extends Hook {
  /** How many CPUs the machine offers (Xen: VCPUOP_is_up probing; native: the MADT). */
  countCpus(k: Kernel, max: number): number;
  /** Runs on the boot CPU: starts CPU `id`, which enters the kernel's AP entry point. */
  startAp(k: Kernel, id: number): Generator<VcpuRequest, void, unknown>;
  /** Runs on the new AP before its clock and IPIs: the per-CPU platform set-up (native: its own LAPIC and vectors). */
  apInit?(k: Kernel, cpu: Pcpu): Generator<VcpuRequest, void, unknown>;
}

/** APIC functions: inter-processor interrupts (Xen: event channels bound with EVTCHNOP_bind_ipi; native: the LAPIC ICR). */
export interface IpiHooks extends Hook {
  /** Sets up `cpu` to receive IPIs (binds its interrupt handler); runs on that CPU. */
  cpuInit(k: Kernel, cpu: Pcpu): void;
  /** Sends an IPI from `from` to CPU `to`; the receiver's idle loop or sleep wakes and counts it. */
  send(from: Pcpu, to: Pcpu): void;
  /** True when an IPI arrived since the last call; consumes it (for code polling outside the idle loop). */
  received(cpu: Pcpu): boolean;
}

/** pmap: how the kernel's page tables are kept (Xen PV: mmu_update/mmuext_op on machine frames; PVH/native: its own tables). */
export interface PmapHooks extends Hook {
  /** One line on what paging the kernel runs with now, for the boot log. */
  describe(k: Kernel): string;
}

/** Every hook, chosen once at early boot. */
export interface KernelHooks {
  readonly clock: ClockHooks;
  readonly memmap: MemoryMapHooks;
  readonly apStart: ApStartHooks;
  readonly ipi: IpiHooks;
  readonly pmap: PmapHooks;
}

/** `machdep.hooks.<role>` = name, for the boot log and sysctl. */
export function hookNames(h: KernelHooks): [string, string][] {
  return [
    ['clock', h.clock.name],
    ['memmap', h.memmap.name],
    ['ap_start', h.apStart.name],
    ['ipi', h.ipi.name],
    ['pmap', h.pmap.name],
  ];
}
