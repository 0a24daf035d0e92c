/**
 * SMP (options SMP; FreeBSD's x86/x86/mp_x86.c and x86/xen/pv.c): the boot CPU counts the CPUs, starts
 * each AP through the AP start-up hook and waits for it to say it launched. An AP sets up its own
 * hypercall pages, clock and IPI port, then runs its own idle loop and run queue.
 */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';
import {
  PAGE_SIZE,
  PvStartInfo,
  VCPUOP,
  VCPU_HVM_MODE,
  VGCF,
  VcpuGuestContext,
  VcpuHvmContext,
  VcpuHvmX86_32,
  CpuUserRegs,
} from '../../../../core/public/index.js';
import { BlockingEvents, PolledEvents, TickedEvents } from '../dev/xen/evtchn.js';
import { Hypervisor } from '../dev/xen/hypervisor.js';
import { XenOps } from '../dev/xen/xen_ops.js';
import { idleLoop } from './idle.js';
import type { Kernel } from './kernel.js';
import { tsleep } from './kern_intr.js';
import { Pcpu } from './pcpu.js';
import { optionNumber } from '../conf/config.js';

/** How long the boot CPU waits for an AP to launch (ns of virtual time). */
const AP_LAUNCH_TIMEOUT_NS = 1e9;
/** Flat 32-bit segments of an AP entering PVH in protected mode without paging (Xen's check_segment). */
const FLAT_AR = [0xc9b, 0xc93, 0xc93, 0xc93, 0x8b];
const X86_CR0_PE = 0x1;
const X86_CR0_ET = 0x10;

/** Per-CPU set-up every CPU runs on itself: the hypercall page (kept when it exists), the second one, event waiting. */
export function cpuSetup(k: Kernel, cpu: Pcpu): void {
  if ((cpu.hv as Hypervisor | undefined) === undefined) cpu.hv = new Hypervisor(cpu.v, k.phys.allocate() * PAGE_SIZE);
  cpu.ops = new XenOps(cpu.v, k.phys.allocate() * PAGE_SIZE);
  if (k.sharedInfo === undefined) cpu.events = new TickedEvents(cpu.v, cpu.hv, k.options.tickUs * 1000);
  else cpu.events = k.initOps?.mode === 'pv' ? new BlockingEvents(cpu.v, cpu.hv, k.sharedInfo) : new PolledEvents(cpu.v, cpu.hv, k.sharedInfo);
}

/** The machine frame of our frame `pfn` (PV: the P2M list of start_info; PVH: frames are guest-physical). */
function machineFrameOf(k: Kernel, pfn: number): number {
  if (k.initOps?.mode !== 'pv') return pfn;
  const list = k.v.memory.readU64(k.preloadStartInfo + PvStartInfo.mfnList);
  return k.v.memory.readU64(list + pfn * 8);
}

/** Writes the AP's initial context into `at`: PVH a flat 32-bit vcpu_hvm_context, PV a vcpu_guest_context. */
function writeApContext(k: Kernel, at: number, stack: number): number {
  const m = k.v.memory;
  if (k.initOps?.mode === 'pvh') {
    m.write(at, new Uint8Array(VcpuHvmContext.size));
    m.writeU32(at + VcpuHvmContext.mode, VCPU_HVM_MODE['32B']);
    const r = at + VcpuHvmContext.cpuRegs;
    m.writeU32(r + 16, stack); // esp
    m.writeU32(r + VcpuHvmX86_32.eip, k.apEntry);
    m.writeU32(r + VcpuHvmX86_32.cr0, X86_CR0_PE | X86_CR0_ET);
    FLAT_AR.forEach((ar, i) => {
      m.writeU32(r + VcpuHvmX86_32.limit + i * 4, 0xffff_ffff);
      m.writeU16(r + VcpuHvmX86_32.ar + i * 2, ar);
    });
    return VcpuHvmContext.size;
  }
  m.write(at, new Uint8Array(VcpuGuestContext.size));
  m.writeU64(at + VcpuGuestContext.flags, VGCF.in_kernel | VGCF.online);
  m.writeU64(at + VcpuGuestContext.userRegs + CpuUserRegs.rip, k.apEntry);
  m.writeU64(at + VcpuGuestContext.userRegs + CpuUserRegs.rsp, stack);
  m.writeU64(at + VcpuGuestContext.kernelSp, stack);
  // The AP shares the boot CPU's page tables; before PV paging there are none, so it gets an empty L4 of its own.
  const cr3 = k.v.regs.cr3 !== 0 ? k.v.regs.cr3 : machineFrameOf(k, k.phys.allocate()) * PAGE_SIZE;
  m.writeU64(at + VcpuGuestContext.ctrlreg + 3 * 8, cr3);
  return VcpuGuestContext.size;
}

/** Xen's AP start-up: VCPUOP_initialise with the AP's context, then VCPUOP_up. */
export function* startXenAp(k: Kernel, id: number): Generator<VcpuRequest, void, unknown> {
  const ops = k.bsp.ops;
  const ctx = k.phys.allocate() * PAGE_SIZE;
  const stack = (k.phys.allocate() + 1) * PAGE_SIZE - 16;
  const isUp = ops.isUp(id);
  if (isUp === true) throw new Error(`cpu${id} is already up`);
  writeApContext(k, ctx, stack);
  ops.vcpuOp('initialise', VCPUOP.initialise, id, ctx);
  ops.vcpuOp('up', VCPUOP.up, id);
  yield* [];
}

/** The boot CPU's part: counts the CPUs (at most MAXCPU), starts each AP, waits for it. */
export function* startAps(k: Kernel): Generator<VcpuRequest, void, unknown> {
  const max = optionNumber(k.config, 'MAXCPU', 32);
  const n = k.hooks.apStart.countCpus(k, max);
  k.printf(`FreeBSD/SMP: Multiprocessor System Detected: ${n} CPUs`);
  if (n === 1) return;
  if (k.apEntry === 0) {
    k.printf('SMP: no AP entry point: running on the boot CPU only');
    return;
  }
  for (let id = 1; id < n; id++) {
    // The toolstack's cpu/N/availability says which of the vCPUs the domain may use now (xl's vcpus of maxvcpus).
    const availability = k.xenstore === undefined ? 'online' : yield* k.xenstore.read(`cpu/${id}/availability`);
    if (availability !== undefined && availability !== 'online') {
      k.printf(`SMP: CPU #${id} is ${availability}`);
      continue;
    }
    try {
      yield* k.hooks.apStart.startAp(k, id);
    } catch (error) {
      k.printf(`SMP: AP CPU #${id} failed to start: ${(error as Error).message}`);
      continue;
    }
    const launched = yield* tsleep(k.bsp, () => k.cpus[id]?.online === true, k.v.now + AP_LAUNCH_TIMEOUT_NS);
    if (!launched) k.printf(`SMP: AP CPU #${id} did not launch`);
  }
}

/** An AP's program: joins the kernel's CPUs, sets itself up and idles. */
export function* apMain(k: Kernel, v: VcpuApi): Generator<VcpuRequest, void, unknown> {
  const cpu = new Pcpu(v.vcpuId, v);
  k.cpus[cpu.id] = cpu;
  try {
    cpuSetup(k, cpu);
    if (k.hooks.apStart.apInit !== undefined) yield* k.hooks.apStart.apInit(k, cpu);
    yield* k.hooks.clock.cpuInit(k, cpu);
    k.hooks.ipi.cpuInit(k, cpu);
    for (const start of k.cpuStart) yield* start(cpu);
    cpu.online = true;
    k.printf(`SMP: AP CPU #${cpu.id} Launched!`);
  } catch (error) {
    k.printf(`SMP: AP CPU #${cpu.id}: ${(error as Error).message}; it stays halted`);
    for (;;) yield v.block();
  }
  yield* idleLoop(k, cpu);
}
