/**
 * The native/HVM boot path (FreeBSD's hammer_time with x86/xen/hvm.c's xen_hvm_init): no start-info
 * magic in RBX or RSI, so the firmware's hand-off block at RDI gives memory and command line. CPUID
 * finds Xen (its hypercall page is set up through the MSR); the Xen platform PCI device decides HVM
 * (native clock and IPIs) against PVHVM (Xen's PV timer and IPIs, PV drivers under xenpci0). The
 * firmware's ACPI tables give the CPUs (the MADT) and the PM blocks (the FADT). Then the device tree:
 * nexus0 → acpi0 (power button; S5 and 0xCF9 reset on plain HVM), isa0 (uart0 console, attimer0,
 * atrtc0) and pcib0 → pci0 (→ xenpci0 → xenstore0; atapci0 → ata0, ata1 → ada0...; rl0).
 */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';
import { PAGE_SIZE } from '../../../../core/public/index.js';
import { acpiDriver } from '../dev/acpi/acpi.js';
import { describeAcpiTables, readAcpiTables, type AcpiTablesFound } from '../dev/acpi/tables.js';
import { registerClockSysctls, startHardclock } from '../kern/kern_clock.js';
import { I8254, attimerDriver } from '../dev/attimer/i8254.js';
import { atrtcDriver } from '../dev/atrtc/atrtc.js';
import { ataPciDriver } from '../dev/ata/ata_pci.js';
import { pciBusDriver, pciEnumerate, describeBars, type PciDevinfo, type PciDriver } from '../dev/pci/pci.js';
import { rlPciDriver } from '../dev/rl/rl_pci.js';
import { uartConsoleDriver } from '../dev/uart/uart_console.js';
import type { Ns8250 } from '../dev/uart/uart_ns8250.js';
import { Hypervisor } from '../dev/xen/hypervisor.js';
import { XenOps } from '../dev/xen/xen_ops.js';
import { isXenPlatformDevice, xenpciCpuInit, xenpciPciDriver } from '../dev/xen/xenpci/xenpci.js';
import { Device, deviceAttach, type Driver } from '../kern/bus.js';
import { hookNames, type KernelHooks } from '../kern/hooks.js';
import type { Kernel } from '../kern/kernel.js';
import { armOnce } from '../kern/pcpu.js';
import { PhysAllocator } from '../kern/vm_phys.js';
import { IntrVectors } from '../x86/intr.js';
import { IoApicDriver, IsaInterrupts } from '../x86/io_apic.js';
import { LocalApicDriver } from '../x86/local_apic.js';
import { hasHvmMetadata, parseHvmMetadata } from '../x86/memmap.js';
import { NativeEvents } from '../x86/native_events.js';
import { NativeMachine, lapicClock, lapicIpi, lapicNow, nativeApStart, nativeMemmap, nativePmap } from '../x86/native_hooks.js';
import { detectXen, type HypervisorId } from './detect.js';
import { xenClock, xenIpi } from './xen_hooks.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** HVM: emulated everything; PVHVM: the same platform with PV drivers, events and timer. */
export type HvmFlavour = 'hvm' | 'pvhvm';

/** True when the kernel was entered by HVM firmware: its hand-off block is at RDI. */
export function detectHvmBoot(v: VcpuApi): boolean {
  return hasHvmMetadata(v, v.regs.rdi);
}

/** The hooks of each flavour: PVHVM keeps the native memory map, AP start-up and pmap. */
export function hvmHooks(flavour: HvmFlavour, m: NativeMachine): KernelHooks {
  const native = { memmap: nativeMemmap, apStart: nativeApStart(m), pmap: nativePmap };
  return flavour === 'pvhvm' ? { ...native, clock: xenClock, ipi: xenIpi } : { ...native, clock: lapicClock(m), ipi: lapicIpi(m) };
}

/** The flavour: PVHVM when Xen is there, the platform device is on the PCI bus and the kernel has `device xenpci`. */
export function chooseFlavour(xen: HypervisorId | undefined, devices: readonly PciDevinfo[], hasXenpci: boolean): HvmFlavour {
  return xen !== undefined && hasXenpci && devices.some(isXenPlatformDevice) ? 'pvhvm' : 'hvm';
}

/** xen_hvm_init_hypercall_stubs: CPUID base+2 names the MSR; writing a page's address there fills it. */
function initHypercallPage(k: Kernel, xen: HypervisorId): void {
  const leaf = k.v.cpuid(xen.base + 2);
  const page = k.phys.allocate() * PAGE_SIZE;
  k.v.wrmsr(leaf.ebx >>> 0, BigInt(page));
  k.printf(`XEN: hypercall page at 0x${page.toString(16)} (MSR 0x${(leaf.ebx >>> 0).toString(16)}, ${leaf.eax} page${leaf.eax === 1 ? '' : 's'})`);
}

function busDriver(name: string, description: string, children: () => readonly Driver[]): Driver {
  return {
    name,
    description,
    *attach(k, dev) {
      for (const child of children()) yield* deviceAttach(k, dev, child);
    },
  };
}

/** What the HVM boot leaves for the idle loop: the console to drain and the vector table. */
export interface HvmBootResult {
  readonly flavour: HvmFlavour;
  readonly intr: IntrVectors;
  readonly uart: Ns8250 | undefined;
  /** The firmware's ACPI tables, when it built any that passed their checks. */
  readonly acpi: AcpiTablesFound | undefined;
}

/** acpi_find_tables: the RSDP and the tables behind it, logged as FreeBSD logs them; a corrupt root means none. */
function findAcpi(k: Kernel): AcpiTablesFound | undefined {
  let found;
  try {
    found = readAcpiTables((addr, length) => k.v.memory.read(addr, length));
  } catch (error) {
    k.printf(`${(error as Error).message}: ACPI tables ignored`);
    return undefined;
  }
  if (found === undefined) {
    k.printf('ACPI: no RSDP in 0xe0000-0xfffff: no ACPI tables');
    return undefined;
  }
  for (const line of describeAcpiTables(found)) k.printf(line);
  for (const why of found.skipped) k.printf(`${why}: table ignored`);
  if (found.madt !== undefined) k.printf(`ACPI APIC Table: <${found.madt.id.oemId} ${found.madt.id.oemTableId}>`);
  return found;
}

/** Everything from the banner to the device tree; the caller starts the shell and the idle loop. */
export function* hvmBoot(k: Kernel): Gen<HvmBootResult> {
  const v = k.v;
  const xen = detectXen(v);
  k.printf(xen ? `Hypervisor: Origin = "${xen.origin}" (CPUID base 0x${xen.base.toString(16)})` : 'Hypervisor: none found in CPUID');
  const preload = parseHvmMetadata(v, v.regs.rdi);
  k.preloadStartInfo = preload.startInfo;
  for (const note of preload.notes) k.printf(note);
  k.cmdline = preload.cmdline;
  k.printf(`Command line: ${preload.cmdline}`);
  k.phys = new PhysAllocator(preload.ram, preload.reserved);
  k.printf(`real memory  = ${k.phys.ramFrames * PAGE_SIZE} (${Math.floor((k.phys.ramFrames * PAGE_SIZE) / 2 ** 20)} MB)`);
  const acpi = findAcpi(k);

  const bsp = k.bsp;
  if (xen !== undefined) {
    initHypercallPage(k, xen);
    bsp.hv = new Hypervisor(v, k.phys.allocate() * PAGE_SIZE);
    bsp.ops = new XenOps(v, k.phys.allocate() * PAGE_SIZE);
    const { major, minor } = bsp.hv.version();
    k.printf(`Xen version ${major}.${minor}${bsp.hv.extraversion()}`);
  }

  const lapic = new LocalApicDriver(v);
  const apicId = yield* lapic.id();
  const intr = new IntrVectors(v, () => lapic.eoi());
  const m = new NativeMachine(lapic, intr, new I8254(v), apicId);
  if (acpi?.madt !== undefined) m.useMadt(acpi.madt);
  const armLapic = (deadline: number): void => lapicNow(lapic.timerOneShot(Math.max(1, deadline - v.now)), 'timer arm');
  bsp.events = new NativeEvents(v, intr, (deadline) => armOnce(bsp, deadline, armLapic), () => bsp.nextTick);

  const devices = yield* pciEnumerate(v, 0);
  const flavour = chooseFlavour(xen, devices, k.hasDevice('xenpci'));
  k.printf(`${flavour.toUpperCase()} guest: ${flavour === 'pvhvm' ? 'Xen platform PCI device found' : 'no Xen platform PCI device'}${xen && flavour === 'hvm' ? ' (hypercalls only)' : ''}`);
  k.hooks = hvmHooks(flavour, m);
  for (const [role, name] of hookNames(k.hooks)) k.printf(`hooks: ${role} = ${name}`);
  for (const line of k.hooks.memmap.describe(k)) k.printf(line);
  k.printf(k.hooks.pmap.describe(k));

  const ioapic = new IoApicDriver(v);
  if (acpi?.madt !== undefined) ioapic.useOverrides(acpi.madt.overrides);
  const isa = new IsaInterrupts(ioapic, intr, apicId);
  let uart: Ns8250 | undefined;
  const nexus = new Device('nexus', 0, 'nexus', undefined);
  k.devices.push(nexus);
  // lapic_setup runs whatever the event timer: PVHVM's callback vector and the IO-APIC's pins reach the
  // CPU only through a software-enabled LAPIC (Xen's vlapic_has_pending_irq is -1 while it is disabled).
  yield* lapic.setup();
  k.printf(`lapic${apicId}: xAPIC at 0x${lapic.base.toString(16)}`);
  k.printf(`ioapic0: ${yield* ioapic.attach()}`);
  yield* deviceAttach(k, nexus, acpiDriver(isa, flavour === 'hvm', acpi?.fadt));
  yield* deviceAttach(k, nexus, busDriver('isa', 'ISA bus', () => [
    uartConsoleDriver(isa, (u) => {
      uart = u;
      intr.beforeHalt.push(() => u.drain());
      k.consoleFlush.push({ flush: () => u.drain(), get backlog() { return u.backlog; } });
    }),
    attimerDriver(m.pit, isa),
    atrtcDriver(),
  ]));
  for (const info of devices) for (const line of describeBars(info)) k.printf(`pci0:${info.slot}:${info.func}: ${line}`);
  const pciDrivers: PciDriver[] = [
    ...(flavour === 'pvhvm' && xen !== undefined
      ? [xenpciPciDriver({ xenBase: xen.base, intr, onAttached: () => m.apSetup.push((kk, cpu, c) => xenpciCpuInit(kk, cpu, xen.base, c.intr)) })]
      : []),
    ...(k.hasDevice('ata') ? [ataPciDriver({ intr, ioapic, apicId })] : []),
    ...(k.hasDevice('rl') ? [rlPciDriver({ intr, ioapic, apicId })] : []),
  ];
  // FreeBSD's xen_hvm_init unplugs the emulated disks and NICs before the bus is probed: on PVHVM the
  // platform device attaches first, so the native ATA and NIC drivers find what is left.
  const probeOrder = flavour === 'pvhvm' ? [...devices.filter(isXenPlatformDevice), ...devices.filter((d) => !isXenPlatformDevice(d))] : devices;
  yield* deviceAttach(k, nexus, busDriver('pcib', 'Host to PCI bridge', () => [pciBusDriver(pciDrivers, probeOrder)]));

  yield* k.hooks.clock.cpuInit(k, bsp);
  k.hooks.ipi.cpuInit(k, bsp);
  if (flavour === 'hvm') {
    // Plain HVM: the LAPIC timer drives hardclock (PVHVM's xentimer0 on xenpci0 does it there).
    k.printf(`lapic${apicId}: hardclock at ${k.hz} Hz`);
    k.cpuStart.push((cpu) => startHardclock(k, cpu, 'lapic'));
    registerClockSysctls(k, 'TSC', 'LAPIC');
  }
  return { flavour, intr, uart, acpi };
}
