/**
 * xenpci0, the driver of the Xen platform PCI device (FreeBSD's dev/xen/xenpci/xenpci.c with the HVM
 * half of x86/xen/hvm.c): it unplugs the emulated disks and NICs, maps the shared-info page into BAR1's
 * space and has events delivered by vector callback (the boot CPU's EventWaiter becomes
 * {@link CallbackEvents}; each AP does the same for itself in {@link xenpciCpuInit}), then becomes the
 * parent of the PV devices, as xenpv0 is on PV and PVH.
 * The clock and IPI hooks of a PVHVM kernel are Xen's (boot/xen_hooks.ts) and use these events.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../../core/api/index.js';
import { HVM_PARAM, HVM_PARAM_CALLBACK_TYPE, HVM_PARAM_CALLBACK_TYPE_SHIFT, PAGE_SIZE, XENFEAT, XENMAPSPACE, XEN_HVM_CPUID } from '../../../../../../core/public/index.js';
import { deviceAttach, type Driver } from '../../../kern/bus.js';
import type { Kernel } from '../../../kern/kernel.js';
import { armOnce, type Pcpu } from '../../../kern/pcpu.js';
import type { IntrVectors } from '../../../x86/intr.js';
import { HvmHypercalls } from '../../../x86/xen/hvm_hypercalls.js';
import type { PciDevinfo, PciDriver } from '../../pci/pci.js';
import { xenstoreDriver } from '../xenstore/xenbus.js';
import { evtchnDriver } from '../evtchn/evtchn_cmd.js';
import { xentimerDriver } from '../timer/timer.js';
import { CallbackEvents } from './callback_events.js';
import { XMI_UNPLUG_IDE_DISKS, XMI_UNPLUG_NICS, xenUnplugEmulatedDevices } from './unplug.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** XenSource's PCI vendor ID and the platform device's IDs (0x0002: the XenServer 6.1+ variant). */
export const XEN_PLATFORM_VENDOR = 0x5853;
export const XEN_PLATFORM_DEVICES: readonly number[] = [0x0001, 0x0002];
/** The IDT vector events arrive on (FreeBSD's IDT_EVTCHN). */
export const IDT_EVTCHN = 0x93;
/** The driver build the unplug protocol registers (major << 16 | minor << 8 | patch of the kernel). */
export const XENPCI_BUILD = 0x00_01_00;

/** True for the Xen platform PCI device. */
export function isXenPlatformDevice(info: Pick<PciDevinfo, 'vendor' | 'device'>): boolean {
  return info.vendor === XEN_PLATFORM_VENDOR && XEN_PLATFORM_DEVICES.includes(info.device);
}

/** What xenpci needs from the kernel's machine-dependent layer. */
export interface XenpciContext {
  /** The CPUID base Xen answered at. */
  readonly xenBase: number;
  readonly intr: IntrVectors;
  /** The PV side is up (events by callback vector): the boot code may now start Xen's clock and IPIs. */
  onAttached?(pv: { readonly hypercalls: HvmHypercalls; readonly events: CallbackEvents }): void;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** HVMOP_set_evtchn_upcall_vector for the calling vCPU when Xen offers it (CPUID leaf 4); false otherwise. */
function setUpcallVector(v: VcpuApi, xenBase: number, hc: HvmHypercalls): boolean {
  if ((v.cpuid(xenBase + 4).eax & XEN_HVM_CPUID.UPCALL_VECTOR) === 0) return false;
  hc.setEvtchnUpcallVector(v.vcpuId, IDT_EVTCHN);
  return true;
}

/** xen_hvm_set_callback with the vector type, then the boot vCPU's own upcall vector. */
function setCallback(k: Kernel, ctx: XenpciContext, hc: HvmHypercalls, name: string): string {
  hc.setParam(HVM_PARAM.CALLBACK_IRQ, (BigInt(HVM_PARAM_CALLBACK_TYPE.VECTOR) << HVM_PARAM_CALLBACK_TYPE_SHIFT) | BigInt(IDT_EVTCHN));
  if (!setUpcallVector(k.v, ctx.xenBase, hc)) return `${name}: callback vector ${hex(IDT_EVTCHN)} (HVM_PARAM_CALLBACK_IRQ)`;
  return `${name}: callback vector ${hex(IDT_EVTCHN)} (HVM_PARAM_CALLBACK_IRQ, per-vCPU upcall vector on vCPU ${k.v.vcpuId})`;
}

/** Binds the callback vector on `intr` to `events`' acknowledgement. */
function bindUpcall(intr: IntrVectors, name: string, events: CallbackEvents): void {
  intr.bind(IDT_EVTCHN, {
    name,
    *handle() {
      events.acknowledge();
    },
  });
}

/**
 * An AP's part of xenpci (xen_hvm_cpu_init): its own {@link CallbackEvents} on its own vector table,
 * its own upcall vector when Xen offers per-vCPU ones (else the domain-wide callback reaches it), and
 * its PV timer as the events' timer. Runs on the AP, after its LAPIC is enabled.
 */
export function* xenpciCpuInit(k: Kernel, cpu: Pcpu, xenBase: number, intr: IntrVectors): Gen {
  const shared = k.sharedInfo;
  if (shared === undefined) throw new Error(`xenpci0: cpu${cpu.id}: no shared-info page for its events`);
  const events = new CallbackEvents(cpu.v, cpu.hv, shared, intr, IDT_EVTCHN, (deadline) => armOnce(cpu, deadline, (d) => cpu.ops.setSingleshot(d)), () => cpu.nextTick);
  bindUpcall(intr, `cpu${cpu.id}: evtchn upcall`, events);
  const own = setUpcallVector(cpu.v, xenBase, new HvmHypercalls(cpu.v, k.phys.allocate() * PAGE_SIZE));
  cpu.events = events;
  cpu.armedDeadline = 0;
  k.printf(`xenpci0: cpu${cpu.id}: callback vector ${hex(IDT_EVTCHN)}${own ? ` (per-vCPU upcall vector on vCPU ${cpu.v.vcpuId})` : ''}`);
  yield* [];
}

function xenpciDriver(info: PciDevinfo, ctx: XenpciContext): Driver {
  return {
    name: 'xenpci',
    description: 'Xen Platform Device',
    *attach(k, dev): Gen {
      const v = k.v;
      const io = info.bars.find((b) => b.kind === 'io');
      const mem = info.bars.find((b) => b.kind === 'mmio');
      if (mem === undefined) throw new Error(`${dev.nameunit}: the platform device has no memory BAR to map Xen pages into`);
      k.printf(`${dev.nameunit}: ${io ? `port ${hex(io.base)}-${hex(io.base + io.size - 1)} ` : ''}mem ${hex(mem.base)}-${hex(mem.base + mem.size - 1)} irq ${info.intline} at device ${info.slot}.${info.func}`);

      const unplug = yield* xenUnplugEmulatedDevices(v, XMI_UNPLUG_IDE_DISKS | XMI_UNPLUG_NICS, XENPCI_BUILD);
      k.printf('skipped' in unplug ? `${dev.nameunit}: emulated devices kept: ${unplug.skipped}` : `${dev.nameunit}: unplugged emulated disks and NICs (mask ${hex(unplug.unplugged)}, protocol ${unplug.protocol})`);

      const hc = new HvmHypercalls(v, k.phys.allocate() * PAGE_SIZE);
      const features = hc.features();
      if ((features & (1 << XENFEAT.hvm_callback_vector)) === 0) throw new Error(`${dev.nameunit}: Xen lacks XENFEAT_hvm_callback_vector (features ${hex(features)}); INTx callback is not supported`);

      const sharedGpfn = Math.floor(mem.base / PAGE_SIZE);
      k.bsp.hv.addToPhysmap(XENMAPSPACE.shared_info, 0, sharedGpfn);
      const shared = sharedGpfn * PAGE_SIZE;
      k.printf(`${dev.nameunit}: shared info page at ${hex(shared)} (BAR1)`);

      const cpu = k.bsp;
      const events = new CallbackEvents(v, cpu.hv, shared, ctx.intr, IDT_EVTCHN, (deadline) => armOnce(cpu, deadline, (d) => cpu.ops.setSingleshot(d)), () => cpu.nextTick);
      bindUpcall(ctx.intr, `${dev.nameunit}: evtchn upcall`, events);
      k.printf(setCallback(k, ctx, hc, dev.nameunit));
      k.sharedInfo = shared;
      cpu.events = events;
      cpu.armedDeadline = 0; // what the LAPIC timer was armed for says nothing about the PV timer
      ctx.onAttached?.({ hypercalls: hc, events });

      // What FreeBSD hangs on xenpv0 on HVM: the PV timer and /dev/xen/evtchn (the console stays the UART).
      if (k.hasDevice('xentimer')) yield* deviceAttach(k, dev, xentimerDriver);
      if (k.hasDevice('evtchn')) yield* deviceAttach(k, dev, evtchnDriver);

      const storePfn = Number(k.hv.hvmGetParam(HVM_PARAM.STORE_PFN));
      const storePort = Number(k.hv.hvmGetParam(HVM_PARAM.STORE_EVTCHN));
      if (storePfn === 0) {
        k.printf(`${dev.nameunit}: no xenstore ring (HVM_PARAM_STORE_PFN is 0)`);
        return;
      }
      yield* deviceAttach(k, dev, xenstoreDriver({ addr: storePfn * PAGE_SIZE, frame: storePfn, port: storePort }));
    },
  };
}

/** The PCI driver: claims 5853:0001 (and 0002). */
export function xenpciPciDriver(ctx: XenpciContext): PciDriver {
  return {
    name: 'xenpci',
    probe: (info) => (isXenPlatformDevice(info) ? xenpciDriver(info, ctx) : undefined),
  };
}
