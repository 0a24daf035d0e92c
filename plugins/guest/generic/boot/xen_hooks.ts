/**
 * The Xen variants of the boot-time hooks (kern/hooks.ts), chosen when CPUID shows Xen and the start
 * info says PV or PVH: the PV clock with VIRQ_TIMER, the start-info memory map, APs started by
 * VCPUOP_initialise + VCPUOP_up, IPIs over event channels, and the PV MMU (PV) or the guest's own
 * page tables under HAP (PVH).
 */
import { VCPUOP, VIRQ } from '../../../../core/public/index.js';
import { pvclockRead } from '../dev/xen/timer/pvclock.js';
import type { ApStartHooks, ClockHooks, IpiHooks, KernelHooks, MemoryMapHooks, PmapHooks } from '../kern/hooks.js';
import { PCPU_RUNSTATE, PCPU_TIME } from '../kern/pcpu.js';
import { startXenAp } from '../kern/mp_machdep.js';

/** xentimer's clock: vcpu_time_info registered per vCPU, VCPUOP_set_singleshot_timer, VIRQ_TIMER per vCPU. */
export const xenClock: ClockHooks = {
  name: 'xentimer (Xen PV clock, VCPUOP_set_singleshot_timer, VIRQ_TIMER)',
  *cpuInit(k, cpu) {
    cpu.area = k.phys.allocate() * 4096;
    // The runstate record also tells the lock code whether another vCPU really runs.
    cpu.ops.registerArea('register_runstate_memory_area', VCPUOP.register_runstate_memory_area, cpu.id, cpu.area + PCPU_RUNSTATE);
    cpu.ops.registerArea('register_vcpu_time_memory_area', VCPUOP.register_vcpu_time_memory_area, cpu.id, cpu.area + PCPU_TIME);
    cpu.timerPort = cpu.ops.bindVirq(VIRQ.TIMER, cpu.id);
  },
  nanouptime(cpu) {
    return pvclockRead(cpu.v, cpu.area + PCPU_TIME);
  },
  arm(cpu, deadline) {
    cpu.ops.setSingleshot(deadline);
  },
  source(cpu) {
    return `cpu${cpu.id}:timer (evtchn ${cpu.timerPort}, VIRQ_TIMER)`;
  },
  fired(cpu) {
    return cpu.events.consume(cpu.timerPort);
  },
};

/** IPIs: one port per CPU bound with EVTCHNOP_bind_ipi; sending is EVTCHNOP_send on the target's port. */
export const xenIpi: IpiHooks = {
  name: 'xen_ipi (EVTCHNOP_bind_ipi, EVTCHNOP_send)',
  cpuInit(k, cpu) {
    cpu.ipiPort = cpu.ops.bindIpi(cpu.id);
    const counter = cpu.intrCounter(`cpu${cpu.id}:ipi (evtchn ${cpu.ipiPort})`);
    k.bindIntr(
      {
        name: `ipi${cpu.id}`,
        port: cpu.ipiPort,
        // eslint-disable-next-line require-yield
        *handle(pending) {
          if (pending) counter.count++;
          return false;
        },
      },
      cpu,
    );
  },
  send(from, to) {
    if (to.ipiPort >= 0) from.hv.evtchnSend(to.ipiPort);
  },
  received(cpu) {
    return cpu.events.consume(cpu.ipiPort);
  },
};

/** APs: VCPUOP_is_up probing, then VCPUOP_initialise + VCPUOP_up at the kernel's AP entry point. */
export const xenApStart: ApStartHooks = {
  name: 'xen_start_ap (VCPUOP_initialise, VCPUOP_up)',
  countCpus(k, max) {
    let n = 1;
    while (n < max && k.bsp.ops.isUp(n) !== undefined) n++;
    return n;
  },
  startAp: startXenAp,
};

function memmap(mode: 'pv' | 'pvh'): MemoryMapHooks {
  return {
    name: mode === 'pv' ? 'xen_pv_parse_memmap (start_info nr_pages)' : 'xen_pvh_parse_memmap (hvm_start_info memmap)',
    describe(k) {
      return [`avail memory = ${k.phys.freeFrames * 4096} (${Math.floor((k.phys.freeFrames * 4096) / 2 ** 20)} MB)`];
    },
  };
}

function pmap(mode: 'pv' | 'pvh'): PmapHooks {
  return {
    name: mode === 'pv' ? 'pmap_pv (PV MMU: mmu_update, mmuext_op)' : 'pmap_native (own page tables, HAP)',
    describe(k) {
      return `pmap: CR3 0x${k.v.regs.cr3.toString(16)}, ${mode === 'pv' ? 'machine frames through the PV MMU' : 'guest-physical frames translated by HAP'}`;
    },
  };
}

/** The hooks for a Xen PV or PVH guest. */
export function xenHooks(mode: 'pv' | 'pvh'): KernelHooks {
  return { clock: xenClock, memmap: memmap(mode), apStart: xenApStart, ipi: xenIpi, pmap: pmap(mode) };
}
