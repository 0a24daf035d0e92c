/** The local APIC: register file, interrupt acceptance and priority, EOI, IPIs through the ICR, LINT pins and the timer. */
import { EventEmitter } from 'eventemitter3';
import { HardwareError } from '../api/errors.js';
import type { MmioHandler } from '../api/io.js';
import type { Engine } from '../engine/engine.js';
import type { TscView } from '../timer/tsc.js';
import {
  APIC_ARBPRI, APIC_BASE_BSP, APIC_BASE_ENABLE, APIC_BASE_EXTD, APIC_CMCI, APIC_DEFAULT_PHYS_BASE,
  APIC_DFR, APIC_EOI, APIC_ESR, APIC_ESR_RECV_ILLEGAL_VECTOR, APIC_ESR_SEND_ILLEGAL_VECTOR,
  APIC_ICR, APIC_ICR2, APIC_ICR_BUSY, APIC_ICR_WRITE_MASK, APIC_ID, APIC_IRR, APIC_ISR, APIC_LDR, APIC_LVR, APIC_LVT0, APIC_LVT1,
  APIC_LVTERR, APIC_LVTPC, APIC_LVTT, APIC_LVTTHMR, APIC_LVT_LEVEL_TRIGGER, APIC_LVT_MASKED, APIC_LVT_TIMER_MODE_SHIFT,
  APIC_PROCPRI, APIC_SPIV, APIC_SPIV_APIC_ENABLED, APIC_SPIV_FOCUS_DISABLED, APIC_TASKPRI, APIC_TDCR, APIC_TMCCT, APIC_TMICT, APIC_TMR,
  APIC_VERSION, DeliveryMode, FIRST_LEGAL_VECTOR, LVT_ERROR_MASK, LVT_LINT_MASK, LVT_THERMAL_MASK, LVT_TIMER_MASK,
  TimerMode, decodeIcr, type InterruptMessage,
} from './apic-defs.js';
import { ApicTimer, DEFAULT_APIC_BUS_HZ } from './apic-timer.js';
import { InterruptRegisters, type VectorBitmap } from './interrupt-registers.js';
import { apicMmioHandler, readApicMsr, writeApicMsr } from './apic-access.js';

/** Events a local APIC reports to its CPU. */
export interface LocalApicEvents {
  /**
   * A fixed interrupt became deliverable. Listeners only wake the CPU, which calls `acknowledge()`
   * later, when its IF allows: acknowledging and EOIing from inside the listener re-enters the APIC.
   */
  interrupt: [];
  nmi: [];
  /** INIT was received; the APIC has already reset itself. The CPU enters wait-for-SIPI. */
  init: [];
  /** A start-up IPI: the AP begins real-mode execution at `vector << 12`. */
  startup: [vector: number];
  /** An ExtINT (8259 PIC) interrupt: the CPU fetches the vector from the PIC. */
  extint: [];
}

/** What the local APIC sends through: its {@link ApicBus}. */
export interface ApicBusPort {
  sendIpi(source: LocalApic, message: InterruptMessage): void;
  broadcastEoi(vector: number): void;
}

export interface LocalApicOptions {
  /** The APIC ID (8 bits in xAPIC mode, 32 in x2APIC mode). */
  apicId: number;
  /** Sets IA32_APIC_BASE.BSP. */
  bsp?: boolean;
  /** Timer input frequency in Hz; default 100 MHz. */
  busHz?: number;
  /** This CPU's TSC, needed for TSC-deadline mode. */
  tsc?: TscView;
  /** Name used in messages; default `lapic<id>`. */
  name?: string;
}

/** LVT slots in register order. */
const LVT_OFFSETS = [APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1, APIC_LVTERR] as const;
const LVT_WRITE_MASKS = [LVT_TIMER_MASK, LVT_THERMAL_MASK, LVT_THERMAL_MASK, LVT_LINT_MASK, LVT_LINT_MASK, LVT_ERROR_MASK] as const;
const LVT_TIMER = 0;
const LVT_LINT0 = 3;
const LVT_ERROR = 5;

/** One CPU's local APIC (Xen's `struct vlapic`, for a physical or virtual CPU). */
export class LocalApic {
  readonly events = new EventEmitter<LocalApicEvents>();
  readonly name: string;
  /** IRR, ISR, TMR and TPR. */
  readonly regs = new InterruptRegisters();
  readonly timer: ApicTimer;
  private id: number;
  private baseAddress = APIC_DEFAULT_PHYS_BASE;
  private baseFlags: number;
  private ldr = 0;
  private dfr = 0xffff_ffff;
  private svr = 0xff;
  private readonly lvt = new Uint32Array(6);
  private cmci = APIC_LVT_MASKED;
  private icrLow = 0;
  private icrHigh = 0;
  private esr = 0;
  private pendingEsr = 0;
  private readonly lintLevels = [false, false];
  private signalled = false;
  private bus: ApicBusPort | undefined;

  constructor(engine: Engine, options: LocalApicOptions) {
    this.id = options.apicId >>> 0;
    this.name = options.name ?? `lapic${this.id}`;
    this.baseFlags = APIC_BASE_ENABLE | (options.bsp ? APIC_BASE_BSP : 0);
    this.timer = new ApicTimer(engine, options.busHz ?? DEFAULT_APIC_BUS_HZ, () => this.timerExpired(), options.tsc);
    this.reset();
  }

  // ---- state -------------------------------------------------------------------------------

  /** The APIC ID. */
  get apicId(): number {
    return this.id;
  }

  /** IA32_APIC_BASE (base address and BSP/EXTD/EN flags). */
  get apicBase(): number {
    return this.baseAddress + this.baseFlags;
  }

  /** Writes IA32_APIC_BASE. Clearing EN resets the APIC; x2APIC → xAPIC without disabling first is a #GP. */
  set apicBase(value: number) {
    const enable = (value & APIC_BASE_ENABLE) !== 0;
    const extd = (value & APIC_BASE_EXTD) !== 0;
    if (extd && !enable) throw this.gp(`IA32_APIC_BASE ${value.toString(16)}: x2APIC mode without the global enable`);
    if (this.x2apicMode && enable && !extd) throw this.gp('IA32_APIC_BASE: x2APIC to xAPIC without disabling first');
    const wasEnabled = this.hardwareEnabled;
    this.baseAddress = value - (value % 0x1000);
    this.baseFlags = value & (APIC_BASE_BSP | APIC_BASE_EXTD | APIC_BASE_ENABLE);
    if (wasEnabled && !enable) this.reset();
    this.updateInterruptSignal();
  }

  /** IA32_APIC_BASE.EN: the APIC is globally enabled. */
  get hardwareEnabled(): boolean {
    return (this.baseFlags & APIC_BASE_ENABLE) !== 0;
  }

  /** SVR bit 8: the APIC is software enabled. */
  get softwareEnabled(): boolean {
    return (this.svr & APIC_SPIV_APIC_ENABLED) !== 0;
  }

  /** Both enables: fixed interrupts are accepted and delivered (Xen's `vlapic_enabled()`). */
  get enabled(): boolean {
    return this.hardwareEnabled && this.softwareEnabled;
  }

  /** IA32_APIC_BASE.EXTD. */
  get x2apicMode(): boolean {
    return (this.baseFlags & APIC_BASE_EXTD) !== 0;
  }

  /** The task-priority register (CR8 is its bits 7:4). */
  get tpr(): number {
    return this.regs.tpr;
  }

  set tpr(value: number) {
    this.regs.tpr = value & 0xff;
    this.updateInterruptSignal();
  }

  /** Processor priority (SDM 11.8.3.1). */
  get ppr(): number {
    return this.regs.ppr;
  }

  /** Interrupt request register. */
  get irr(): VectorBitmap {
    return this.regs.irr;
  }

  /** In-service register. */
  get isr(): VectorBitmap {
    return this.regs.isr;
  }

  /** Trigger-mode register. */
  get tmr(): VectorBitmap {
    return this.regs.tmr;
  }

  /** The spurious-interrupt vector (SVR bits 7:0). */
  get spuriousVector(): number {
    return this.svr & 0xff;
  }

  /** Logical APIC ID as matched against logical destinations (the x2APIC LDR is derived from the ID). */
  get logicalId(): number {
    return this.x2apicMode ? ((this.id >>> 4) << 16) | (1 << (this.id & 0xf)) : this.ldr;
  }

  /** Power-up state (SDM 11.4.7.1), keeping the APIC ID and IA32_APIC_BASE. */
  reset(): void {
    this.regs.reset();
    this.ldr = 0;
    this.dfr = 0xffff_ffff;
    this.svr = 0xff;
    this.lvt.fill(APIC_LVT_MASKED);
    this.cmci = APIC_LVT_MASKED;
    this.icrLow = 0;
    this.icrHigh = 0;
    this.esr = 0;
    this.pendingEsr = 0;
    this.timer.reset();
    this.updateInterruptSignal();
  }

  /** Attaches the APIC to its bus; {@link ApicBus.attach} calls this. @internal */
  connect(bus: ApicBusPort | undefined): void {
    this.bus = bus;
  }

  // ---- interrupt acceptance and delivery ---------------------------------------------------

  /**
   * Accepts a message routed to this APIC (by the bus, after destination matching). Fixed and
   * lowest-priority interrupts need the APIC enabled; NMI, INIT and start-up are accepted regardless.
   */
  accept(message: InterruptMessage): void {
    if (!this.hardwareEnabled) return;
    switch (message.deliveryMode) {
      case DeliveryMode.Fixed:
      case DeliveryMode.LowestPriority:
        if (this.enabled) this.acceptInterrupt(message.vector, message.level);
        return;
      case DeliveryMode.Nmi:
        this.events.emit('nmi');
        return;
      case DeliveryMode.Init:
        if (message.assert === false) return; // INIT level de-assert: ignored since the Pentium 4.
        this.reset();
        this.events.emit('init');
        return;
      case DeliveryMode.StartUp:
        this.events.emit('startup', message.vector & 0xff);
        return;
      case DeliveryMode.ExtInt:
        this.events.emit('extint');
        return;
      default:
        return; // SMI and the reserved modes are not modelled.
    }
  }

  /** Sets `vector` in the IRR (TMR per trigger mode). A vector below 16 is an illegal vector error instead. */
  acceptInterrupt(vector: number, level: boolean): void {
    vector &= 0xff;
    if (vector < FIRST_LEGAL_VECTOR) {
      this.raiseError(APIC_ESR_RECV_ILLEGAL_VECTOR);
      return;
    }
    this.regs.request(vector, level);
    this.updateInterruptSignal();
  }

  /** The highest IRR vector whose class is above the PPR's, or `undefined` (Xen's `vlapic_has_pending_irq`). */
  get pendingVector(): number | undefined {
    return this.enabled ? this.regs.highestDeliverable() : undefined;
  }

  /**
   * The CPU takes the interrupt (INTA): the highest deliverable vector moves from IRR to ISR and is
   * returned. With nothing deliverable the spurious vector is returned and no state changes.
   */
  acknowledge(): number {
    const vector = this.pendingVector;
    if (vector === undefined) return this.spuriousVector;
    this.regs.startService(vector);
    this.updateInterruptSignal();
    return vector;
  }

  /** End of interrupt: clears the highest ISR bit; a level-triggered vector is broadcast to the IO-APICs. */
  eoi(): void {
    const done = this.regs.endService();
    if (done === undefined) return;
    if (done.level) this.bus?.broadcastEoi(done.vector);
    this.updateInterruptSignal();
  }

  /** Drives a LINT pin; a rising edge delivers per its LVT entry (LINT0 is usually ExtINT, LINT1 NMI). */
  setLint(pin: 0 | 1, asserted: boolean): void {
    const rising = asserted && !this.lintLevels[pin];
    this.lintLevels[pin] = asserted;
    if (!rising) return;
    const entry = this.lvt[LVT_LINT0 + pin]!;
    if (entry & APIC_LVT_MASKED) return;
    const mode = ((entry >>> 8) & 7) as DeliveryMode;
    if (mode === DeliveryMode.Fixed) this.acceptInterrupt(entry & 0xff, (entry & APIC_LVT_LEVEL_TRIGGER) !== 0);
    else this.accept({ vector: entry & 0xff, deliveryMode: mode, logical: false, dest: this.id, level: false });
  }

  /** The destination format register (flat or cluster model in bits 31:28). */
  get destinationFormat(): number {
    return this.dfr;
  }

  /** True when `vector` is already requested or in service here (the focus processor for lowest priority). */
  isFocusFor(vector: number): boolean {
    return (this.svr & APIC_SPIV_FOCUS_DISABLED) === 0 && (this.irr.has(vector) || this.isr.has(vector));
  }

  // ---- register file -----------------------------------------------------------------------

  /** Reads the 32-bit register at xAPIC offset `offset` (16-byte aligned). Reserved and write-only offsets read 0. */
  readRegister(offset: number): number {
    switch (offset) {
      case APIC_ID: return this.x2apicMode ? this.id : (this.id << 24) >>> 0;
      case APIC_LVR: return APIC_VERSION;
      case APIC_TASKPRI: return this.regs.tpr;
      case APIC_ARBPRI: return this.regs.apr;
      case APIC_PROCPRI: return this.ppr;
      case APIC_LDR: return this.logicalId >>> 0;
      case APIC_DFR: return this.dfr >>> 0;
      case APIC_SPIV: return this.svr;
      case APIC_ESR: return this.esr;
      case APIC_CMCI: return this.cmci;
      case APIC_ICR: return this.icrLow;
      case APIC_ICR2: return this.icrHigh >>> 0;
      case APIC_TMICT: return this.timer.initialCount;
      case APIC_TMCCT: return this.timer.currentCount();
      case APIC_TDCR: return this.timer.divideConfig;
    }
    if (offset >= APIC_ISR && offset < APIC_ISR + 0x80) return this.isr.words[(offset - APIC_ISR) >>> 4]!;
    if (offset >= APIC_TMR && offset < APIC_TMR + 0x80) return this.tmr.words[(offset - APIC_TMR) >>> 4]!;
    if (offset >= APIC_IRR && offset < APIC_IRR + 0x80) return this.irr.words[(offset - APIC_IRR) >>> 4]!;
    const slot = LVT_OFFSETS.indexOf(offset as (typeof LVT_OFFSETS)[number]);
    return slot >= 0 ? this.lvt[slot]! : 0;
  }

  /** Writes the 32-bit register at xAPIC offset `offset`. Read-only and reserved registers ignore writes. */
  writeRegister(offset: number, value: number): void {
    value >>>= 0;
    switch (offset) {
      case APIC_TASKPRI: this.tpr = value; return;
      case APIC_EOI: this.eoi(); return;
      case APIC_LDR: if (!this.x2apicMode) this.ldr = value & 0xff00_0000; return;
      case APIC_DFR: if (!this.x2apicMode) this.dfr = (value | 0x0fff_ffff) >>> 0; return;
      case APIC_SPIV: this.writeSvr(value); return;
      case APIC_ESR: this.esr = this.pendingEsr; this.pendingEsr = 0; return;
      case APIC_CMCI: this.cmci = this.lvtValue(value & LVT_THERMAL_MASK); return;
      case APIC_ICR: this.writeIcr(value, this.icrHigh); return;
      case APIC_ICR2: this.icrHigh = value & 0xff00_0000; return;
      case APIC_TMICT: this.timer.setInitialCount(value); return;
      case APIC_TDCR: this.timer.setDivideConfig(value); return;
    }
    const slot = LVT_OFFSETS.indexOf(offset as (typeof LVT_OFFSETS)[number]);
    if (slot >= 0) this.writeLvt(slot, value);
  }

  /** The APIC page as an MMIO handler (register it for 4 KiB at the APIC base). */
  get mmio(): MmioHandler {
    return apicMmioHandler(this);
  }

  /** RDMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE or an x2APIC register; throws a `gp` HardwareError for others. */
  readMsr(msr: number): bigint {
    return readApicMsr(this, msr);
  }

  /** WRMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE or an x2APIC register; throws a `gp` HardwareError for others. */
  writeMsr(msr: number, value: bigint): void {
    writeApicMsr(this, msr, value);
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** Sends the IPI described by an ICR write (`high` is the 8-bit xAPIC or 32-bit x2APIC destination). @internal */
  writeIcr(low: number, high: number): void {
    this.icrLow = low & APIC_ICR_WRITE_MASK;
    this.icrHigh = high >>> 0;
    const deliveryMode = (low >>> 8) & 7;
    if ((deliveryMode === DeliveryMode.Fixed || deliveryMode === DeliveryMode.LowestPriority) && (low & 0xff) < FIRST_LEGAL_VECTOR) {
      this.raiseError(APIC_ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    if (this.bus === undefined) throw new HardwareError('apic-detached', `${this.name}: IPI sent from an APIC on no bus`);
    this.bus.sendIpi(this, decodeIcr(low, this.icrHigh, this.x2apicMode));
  }

  /** Sets or clears ICR's delivery-status (send pending) bit; the bus calls this around a delayed IPI. @internal */
  setIcrBusy(busy: boolean): void {
    this.icrLow = busy ? this.icrLow | APIC_ICR_BUSY : this.icrLow & ~APIC_ICR_BUSY;
  }

  /** The 64-bit ICR as x2APIC MSR 0x830 reads it. @internal */
  icrValue(): bigint {
    return (BigInt(this.icrHigh >>> 0) << 32n) | BigInt(this.icrLow >>> 0);
  }

  /** A #GP the CPU layer injects (code `gp`). @internal */
  gp(detail: string): HardwareError {
    return new HardwareError('gp', `${this.name}: ${detail}`);
  }

  private writeSvr(value: number): void {
    this.svr = value & 0x3ff;
    if (!this.softwareEnabled) {
      for (let i = 0; i < this.lvt.length; i++) this.lvt[i] = this.lvt[i]! | APIC_LVT_MASKED;
    }
    this.updateInterruptSignal();
  }

  private writeLvt(slot: number, value: number): void {
    const entry = this.lvtValue(value & LVT_WRITE_MASKS[slot]!);
    this.lvt[slot] = entry;
    if (slot === LVT_TIMER) this.timer.setMode(((entry >>> APIC_LVT_TIMER_MODE_SHIFT) & 3) as TimerMode);
  }

  /** A software-disabled APIC keeps every LVT masked. */
  private lvtValue(value: number): number {
    return this.softwareEnabled ? value : value | APIC_LVT_MASKED;
  }

  private timerExpired(): void {
    const entry = this.lvt[LVT_TIMER]!;
    if ((entry & APIC_LVT_MASKED) === 0 && this.enabled) this.acceptInterrupt(entry & 0xff, false);
  }

  private raiseError(bits: number): void {
    const first = (this.pendingEsr & bits) === 0;
    this.pendingEsr |= bits;
    const entry = this.lvt[LVT_ERROR]!;
    if (first && (entry & APIC_LVT_MASKED) === 0 && (entry & 0xff) >= FIRST_LEGAL_VECTOR) this.acceptInterrupt(entry & 0xff, false);
  }

  /** Emits `interrupt` when a deliverable vector appears. */
  private updateInterruptSignal(): void {
    const pending = this.pendingVector !== undefined;
    if (pending && !this.signalled) {
      this.signalled = true;
      this.events.emit('interrupt');
    } else if (!pending) {
      this.signalled = false;
    }
  }
}
