/**
 * The i8254 PIT of an HVM guest: three counters on ports 0x40–0x42, the control word on 0x43 (latch and
 * read-back commands included), channel 0's OUT edges on ISA IRQ 0 while it is programmed, and port
 * 0x61's gate/output bits for channel 2 (the PC speaker's port, QEMU's pcspk).
 */
import type { DeviceModelContext, EmulatedDevice, InterruptLine, IoRegistration } from '../../../core/api/index.js';
import { ioPort } from '../../../core/public/index.js';
import { PitChannel, timeOfTick } from './channel.js';

export const PIT_BASE = 0x40;
export const PORT_B = 0x61;
/** Port 0x61 bits: channel 2 gate, speaker data enable, refresh toggle, channel 2 OUT. */
export const PORT_B_BITS = { gate2: 0x01, speaker: 0x02, refresh: 0x10, out2: 0x20 } as const;
/** The DRAM refresh toggle of port 0x61 bit 4 flips every 15.085 µs (QEMU's PIT refresh clock). */
const REFRESH_NS = 15_085;

/** The PIT. */
export class Pit8254 implements EmulatedDevice {
  readonly channels = [new PitChannel(true), new PitChannel(true), new PitChannel(false)] as const;
  private speaker = false;
  private readonly irq0: InterruptLine;
  private readonly registrations: IoRegistration[] = [];
  private cancelTimer: (() => void) | undefined;
  /** IRQ 0 edges raised. */
  irqs = 0;

  constructor(private readonly ctx: DeviceModelContext) {
    this.irq0 = ctx.isaIrq(0);
    try {
      this.registrations.push(ctx.io.registerPorts(ioPort(PIT_BASE), 4, { read: (o) => this.read(o), write: (o, _s, v) => this.write(o, v & 0xff) }));
      this.registrations.push(ctx.io.registerPorts(ioPort(PORT_B), 1, { read: () => this.readPortB(), write: (_o, _s, v) => this.writePortB(v & 0xff) }));
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Whether channel 0 has a timer armed for its next IRQ 0 edge. */
  get ticking(): boolean {
    return this.cancelTimer !== undefined;
  }

  read(offset: number): number {
    if (offset === 3) return 0xff; // The control register cannot be read.
    return this.channels[offset]!.read(this.ctx.now());
  }

  write(offset: number, value: number): void {
    const now = this.ctx.now();
    if (offset < 3) {
      if (this.channels[offset]!.write(now, value) && offset === 0) this.armIrq0();
      return;
    }
    const select = value >> 6;
    if (select === 3) {
      // Read-back: bit 5 clear latches counts, bit 4 clear latches statuses, bits 1-3 pick channels.
      for (let i = 0; i < 3; i++) {
        if ((value & (2 << i)) === 0) continue;
        const c = this.channels[i]!;
        if ((value & 0x20) === 0) c.latchCount(now);
        if ((value & 0x10) === 0) c.latchStatus(now);
      }
      return;
    }
    const c = this.channels[select]!;
    const access = (value >> 4) & 3;
    if (access === 0) {
      c.latchCount(now);
      return;
    }
    c.program(access, (value >> 1) & 7, (value & 1) !== 0);
    if (select === 0) this.disarmIrq0();
  }

  dump(): string {
    const now = this.ctx.now();
    return this.channels.map((c, i) => `ch${i} mode ${c.mode} count ${c.count} now ${c.countAt(now)} out ${c.outAt(now) ? 1 : 0} gate ${c.gate ? 1 : 0}`).join('; ') + `; irq0 edges ${this.irqs}`;
  }

  dispose(): void {
    this.disarmIrq0();
    for (const r of this.registrations.splice(0)) r.dispose();
  }

  private readPortB(): number {
    const now = this.ctx.now();
    const ch2 = this.channels[2];
    const refresh = Math.floor(now / REFRESH_NS) & 1;
    return (ch2.gate ? PORT_B_BITS.gate2 : 0) | (this.speaker ? PORT_B_BITS.speaker : 0) | (refresh ? PORT_B_BITS.refresh : 0) | (ch2.outAt(now) ? PORT_B_BITS.out2 : 0);
  }

  private writePortB(value: number): void {
    this.speaker = (value & PORT_B_BITS.speaker) !== 0;
    this.channels[2].setGate(this.ctx.now(), (value & PORT_B_BITS.gate2) !== 0);
  }

  private disarmIrq0(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** Schedules the next rising edge of channel 0's OUT after now; edges missed while Dom0 was busy coalesce into one. */
  private armIrq0(): void {
    this.disarmIrq0();
    const c = this.channels[0];
    const load = c.loadTime;
    if (load === undefined) return;
    const edge = c.nextRisingEdge(c.elapsed(this.ctx.now()));
    if (edge === undefined) return;
    this.cancelTimer = this.ctx.timer(timeOfTick(load, edge), () => {
      this.cancelTimer = undefined;
      if (c.loadTime !== load) return;
      this.irqs++;
      this.irq0.pulse();
      this.armIrq0();
    });
  }
}
