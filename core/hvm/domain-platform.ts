/**
 * One HVM/PVHVM/PVH domain's emulated platform (Xen's struct hvm_domain): a vLAPIC per vCPU on the
 * domain's own APIC bus, an IO-APIC for HVM and PVHVM (none for PVH, as XEN_X86_EMU_LAPIC alone), the
 * ISA/PCI INTx → GSI wiring of hvmloader's tables, INIT/SIPI start-up of APs, and the event-channel
 * sink through which PVHVM gets its events by vector callback.
 */
import { ApicBus, IoApic, LocalApic } from '../apic/index.js';
import { deliverMsi } from '../apic/msi.js';
import type { Domain, GuestMode, PendingSource, VcpuProgram } from '../api/domain.js';
import type { HvmIrqSink } from '../api/event-channel.js';
import type { MsiMessage } from '../api/interrupts.js';
import type { Logger } from '../api/log.js';
import type { Engine } from '../engine/engine.js';
import type { TscView } from '../timer/tsc.js';
import type { VcpuImpl } from '../cpu/vcpu.js';
import { ExitCounters } from './exits.js';
import { HVM_IOAPIC_ID, hvmLapicId } from '../public/acpi.js';
import type { IoreqServerImpl } from './ioreq-server.js';

/** Xen's VIOAPIC_NUM_PINS for HVM guests: 48 GSIs. */
export const HVM_IOAPIC_PINS = 48;

/** ISA IRQ → GSI as hvmloader's MADT interrupt source overrides say: the PIT's IRQ 0 is GSI 2, others identity. */
export function isaIrqToGsi(irq: number): number {
  return irq === 0 ? 2 : irq;
}

/** Xen's hvm_pci_intx_gsi: the GSI of INTx `intx` (0 = INTA) of bus-0 device `device`. */
export function pciIntxGsi(device: number, intx: number): number {
  return ((((device << 2) + (device >> 3) + intx) & 31) >>> 0) + 16;
}

/** A vCPU's part of the platform. */
/**
 * One vCPU's HVM state. Its vLAPIC is made on first use — all of the domain's at once, so IPIs always
 * find their target — because an idle PVH guest never touches it and ten thousand of them should not
 * carry one each; until then it is in its reset state, which is what a fresh one reads as.
 */
export class HvmVcpuState implements PendingSource {
  /** The answer to the last forwarded read, once completed. */
  ioResult = 0;
  /** The forwarded access the vCPU waits on. */
  pending: { readonly server: IoreqServerImpl; readonly size: number; readonly write: boolean } | null = null;
  /** In wait-for-SIPI: after INIT, and APs from creation until their first SIPI. */
  waitForSipi: boolean;
  /** Set by {@link HvmDomainPlatform.makeLapics}. */
  lapicMade: LocalApic | undefined;

  constructor(
    readonly vcpu: VcpuImpl,
    private readonly platform: HvmDomainPlatform,
  ) {
    this.waitForSipi = vcpu.vcpuId !== 0;
  }

  /** A vector waits in the vLAPIC (what HLT and SCHEDOP_block check). */
  hasPending(): boolean {
    return this.lapicMade?.pendingVector !== undefined;
  }

  get lapic(): LocalApic {
    if (this.lapicMade === undefined) this.platform.makeLapics();
    return this.lapicMade!;
  }
}

export interface HvmDomainPlatformDeps {
  readonly engine: Engine;
  readonly log: Logger;
  readonly domain: Domain;
  /** The domain's paging: `shadow` makes CR3 writes, INVLPG and CR3 reads exit. */
  readonly shadow: boolean;
  readonly tsc?: TscView;
  /** Guest code the domain registered at `rip` (SchedOps.setEntryPoint), for a SIPI. */
  entryPoint(domid: number, rip: number): VcpuProgram | undefined;
}

export class HvmDomainPlatform implements HvmIrqSink {
  readonly domid: number;
  readonly mode: GuestMode;
  readonly shadow: boolean;
  readonly ioApic: IoApic | undefined;
  readonly vcpus: HvmVcpuState[];
  readonly exits: ExitCounters;
  /** Ioreq servers, oldest first. */
  readonly servers: IoreqServerImpl[] = [];
  /** Sources asserting each GSI (wired-OR: the pin is high while any is). */
  private gsiSources: Map<number, Set<string>> | undefined;
  private readonly removers: (() => void)[] = [];
  private disposed = false;
  /** The domain's APIC bus, made with the first vLAPIC or the IO-APIC (a PVH domain may never need it). */
  private busMade: ApicBus | undefined;

  constructor(private readonly deps: HvmDomainPlatformDeps) {
    const d = deps.domain;
    this.domid = d.domid;
    this.mode = d.mode;
    this.shadow = deps.shadow;
    this.exits = new ExitCounters(deps.engine, d.domid);
    this.ioApic = d.mode === 'pvh' ? undefined : new IoApic(this.bus, { id: HVM_IOAPIC_ID, pins: HVM_IOAPIC_PINS, name: `dom${d.domid} vioapic` });
    this.vcpus = (d.vcpus as VcpuImpl[]).map((v) => new HvmVcpuState(v, this));
    if (d.mode !== 'pvh') this.makeLapics(); // the firmware and kernel use them at once
  }

  get bus(): ApicBus {
    if (this.busMade === undefined) {
      this.busMade = new ApicBus({ engine: this.deps.engine });
      this.busMade.events.on('ipi', this.chargeIpi, this);
    }
    return this.busMade;
  }

  /** Makes every vCPU's vLAPIC (the first time any is needed), wired to its vCPU and the APIC bus. */
  makeLapics(): void {
    if (this.vcpus.some((s) => s.lapicMade !== undefined)) return;
    for (const s of this.vcpus) {
      const v = s.vcpu;
      const id = v.vcpuId;
      // Xen's vlapic_reset: APIC ID = vcpu_id * 2 (what hvmloader's MADT lists).
      const lapic = new LocalApic(this.deps.engine, { apicId: hvmLapicId(id), bsp: id === 0, tsc: this.deps.tsc, name: `dom${this.domid} vcpu${id} vlapic` });
      s.lapicMade = lapic;
      this.bus.attach(lapic);
      lapic.events.on('interrupt', () => v.kick());
      lapic.events.on('init', () => this.init(s));
      lapic.events.on('startup', (vector: number) => this.startup(s, vector));
      v.addPendingSource(s);
      this.removers.push(() => {
        v.removePendingSource(s);
        lapic.events.removeAllListeners();
      });
    }
  }

  vcpu(vcpu: number): HvmVcpuState | undefined {
    return this.vcpus[vcpu];
  }

  // --- interrupt lines ---------------------------------------------------------------------------

  /** Drives GSI `gsi` on behalf of `source`; the IO-APIC pin is the OR of its sources. PVH has no IO-APIC: dropped. */
  setGsi(source: string, gsi: number, high: boolean): void {
    const ioApic = this.ioApic;
    if (ioApic === undefined || this.disposed) return;
    if (!Number.isInteger(gsi) || gsi < 0 || gsi >= ioApic.pins) {
      this.deps.log.warn(`dom${this.domid}: ${source} drove GSI ${gsi}, which the vIOAPIC does not have (0..${ioApic.pins - 1})`);
      return;
    }
    const sources = (this.gsiSources ??= new Map());
    let set = sources.get(gsi);
    if (set === undefined) sources.set(gsi, (set = new Set()));
    if (high) set.add(source);
    else set.delete(source);
    ioApic.setLevel(gsi, set.size > 0);
  }

  /** XEN_DMOP_set_isa_irq_level. */
  setIsaIrqLevel(irq: number, high: boolean, source = 'dm'): void {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15) throw new RangeError(`dom${this.domid}: ISA IRQ ${irq} out of range 0..15`);
    this.setGsi(`${source}:isa${irq}`, isaIrqToGsi(irq), high);
  }

  /** XEN_DMOP_set_pci_intx_level for bus 0. */
  setDeviceIntx(device: number, intx: number, high: boolean, source = 'dm'): void {
    if (!Number.isInteger(device) || device < 0 || device > 31 || !Number.isInteger(intx) || intx < 0 || intx > 3) {
      throw new RangeError(`dom${this.domid}: PCI INTx ${intx} of device ${device} out of range (device 0..31, INTx 0..3)`);
    }
    this.setGsi(`${source}:pci${device}.${intx}`, pciIntxGsi(device, intx), high);
  }

  /** XEN_DMOP_inject_msi: an MSI write to the domain's interrupt window. */
  injectMsi(message: MsiMessage): void {
    if (!this.disposed) deliverMsi(this.bus, message);
  }

  // --- HvmIrqSink: where the event-channel callback goes -------------------------------------------

  /**
   * HVM/PVHVM: the vector is requested in the vCPU's vLAPIC (fixed, edge), taken with `acceptInterrupt`.
   * PVH events arrive as upcalls (the vcpu_info flag its kernel checks): the vCPU is only woken.
   */
  injectVector(vcpu: number, vector: number): void {
    const s = this.vcpus[vcpu];
    if (s === undefined || this.disposed) return;
    if (this.mode === 'pvh') s.vcpu.kick();
    else s.lapic.acceptInterrupt(vector, false);
  }

  setGsiLevel(gsi: number, high: boolean): void {
    this.setGsi('evtchn', gsi, high);
  }

  setPciIntxLevel(bus: number, devfn: number, pin: number, high: boolean): void {
    if (bus !== 0) {
      this.deps.log.warn(`dom${this.domid}: callback via PCI INTx on bus ${bus}: only bus 0 exists`);
      return;
    }
    this.setDeviceIntx(devfn >> 3, pin, high, 'evtchn');
  }

  // --- INIT / SIPI ---------------------------------------------------------------------------------

  /** INIT: the vCPU is reset and waits for a SIPI (Xen's vlapic_init_sipi_one, INIT half). */
  private init(s: HvmVcpuState): void {
    if (this.disposed) return;
    s.waitForSipi = true;
    s.vcpu.setProgram(null);
    s.vcpu.context.reset();
    s.vcpu.down();
  }

  /** SIPI: a vCPU in wait-for-SIPI starts the guest code registered at `vector << 12`; otherwise ignored, as on hardware. */
  private startup(s: HvmVcpuState, vector: number): void {
    if (this.disposed || !s.waitForSipi) return;
    s.waitForSipi = false;
    const rip = vector << 12;
    s.vcpu.context.rip = rip;
    const program = this.deps.entryPoint(this.domid, rip);
    if (program === undefined) this.deps.log.warn(`dom${this.domid} vcpu${s.vcpu.vcpuId}: SIPI to 0x${rip.toString(16)}, where no guest code is registered (SchedOps.setEntryPoint); it stays idle`);
    s.vcpu.setProgram(program ?? null);
    s.vcpu.up();
  }

  /** A virtual IPI costs `ipiVirtual` in all; the ICR write's exit already charged `vmExit`. */
  private chargeIpi(source: LocalApic): void {
    const s = this.vcpus.find((x) => x.lapicMade === source);
    if (s === undefined) return;
    const cost = this.deps.engine.cost;
    s.vcpu.charge(Math.max(0, cost.ipiVirtual - cost.vmExit));
  }

  // --- teardown and dump ---------------------------------------------------------------------------

  /** Releases everything: vLAPIC timers, the IO-APIC, ioreq servers (waiting vCPUs get all ones), wake-up checks. */
  dispose(): void {
    if (this.disposed) return;
    for (const server of [...this.servers]) server.destroy();
    this.disposed = true;
    for (const remove of this.removers.splice(0)) remove();
    this.busMade?.events.off('ipi', this.chargeIpi, this);
    for (const s of this.vcpus) {
      if (s.lapicMade === undefined) continue;
      s.lapicMade.timer.reset();
      this.bus.detach(s.lapicMade);
    }
    this.ioApic?.dispose();
    this.gsiSources?.clear();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dump(): string {
    const lines = [`dom${this.domid} (${this.mode}, ${this.shadow ? 'shadow' : 'hap'}): ${this.exits.describe()}`];
    for (const s of this.vcpus) {
      const l = s.lapicMade;
      if (l === undefined) {
        lines.push(`  vcpu${s.vcpu.vcpuId}: vlapic untouched (reset state)${s.pending ? ` waiting on ioreq server ${s.pending.server.id}` : ''}`);
        continue;
      }
      const irr = vectorsOf(l.irr.words);
      const isr = vectorsOf(l.isr.words);
      lines.push(`  vcpu${s.vcpu.vcpuId}: apic id ${l.apicId} ${l.enabled ? 'enabled' : 'disabled'}${l.x2apicMode ? ' x2apic' : ''} irr [${irr.join(',')}] isr [${isr.join(',')}] timer ${l.timer.armed ? 'armed' : 'idle'}${s.pending ? ` waiting on ioreq server ${s.pending.server.id}` : ''}${s.waitForSipi ? ' wait-for-SIPI' : ''}`);
    }
    if (this.ioApic !== undefined) {
      const asserted = [...(this.gsiSources ?? [])].filter(([, set]) => set.size > 0).map(([gsi, set]) => `${gsi}<-${[...set].join('|')}`);
      lines.push(`  vioapic: ${this.ioApic.pins} pins, asserted [${asserted.join(' ')}]`);
    }
    for (const server of this.servers) lines.push(`  ${server.describe()}`);
    return lines.join('\n');
  }
}

/** The set vectors of a 256-bit APIC bitmap, lowest first. */
function vectorsOf(words: Uint32Array): number[] {
  const out: number[] = [];
  for (let v = 0; v < 256; v++) if ((words[v >>> 5]! & (1 << (v & 31))) !== 0) out.push(v);
  return out;
}
