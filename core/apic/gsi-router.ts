/** GSI routing: global system interrupts → (IO-APIC, pin), and the interrupt lines device models drive. */
import { HardwareError } from '../api/errors.js';
import type { InterruptLine } from '../api/interrupts.js';
import type { Gsi } from '../public/types.js';
import type { IoApic } from './io-apic.js';

/** Where a GSI lands. */
export interface GsiRoute {
  ioapic: IoApic;
  pin: number;
}

/**
 * Maps GSIs onto the IO-APICs of one platform, each serving `gsiBase .. gsiBase+pins-1` (as the
 * MADT's IO-APIC entries say). `setLevel` drives a GSI's pin directly; lines made by
 * {@link GsiRouter.createLine} share a GSI wired-OR.
 */
export class GsiRouter {
  private readonly ioapics: IoApic[] = [];
  private readonly assertedLines = new Map<number, number>();

  /** Adds an IO-APIC at its `gsiBase`. Throws if its GSIs overlap another's. */
  addIoApic(ioapic: IoApic): void {
    const end = ioapic.gsiBase + ioapic.pins;
    const clash = this.ioapics.find((o) => ioapic.gsiBase < o.gsiBase + o.pins && o.gsiBase < end);
    if (clash !== undefined) {
      throw new HardwareError(
        'gsi-overlap',
        `gsi: ${ioapic.name} serving GSIs ${ioapic.gsiBase}-${end - 1} overlaps ${clash.name} serving ${clash.gsiBase}-${clash.gsiBase + clash.pins - 1}`,
      );
    }
    this.ioapics.push(ioapic);
    this.ioapics.sort((a, b) => a.gsiBase - b.gsiBase);
  }

  /** IO-APICs in GSI order. */
  get all(): readonly IoApic[] {
    return this.ioapics;
  }

  /** One past the highest GSI served. */
  get gsiCount(): number {
    return this.ioapics.reduce((max, a) => Math.max(max, a.gsiBase + a.pins), 0);
  }

  /** The IO-APIC and pin of `gsi`, or `undefined` when none serves it. */
  route(gsi: Gsi): GsiRoute | undefined {
    for (const ioapic of this.ioapics) {
      if (gsi >= ioapic.gsiBase && gsi < ioapic.gsiBase + ioapic.pins) return { ioapic, pin: gsi - ioapic.gsiBase };
    }
    return undefined;
  }

  /** Sets the (logical) level of `gsi`'s pin. */
  setLevel(gsi: Gsi, high: boolean): void {
    const { ioapic, pin } = this.mustRoute(gsi);
    ioapic.setLevel(pin, high);
  }

  /** One edge on `gsi`. */
  pulse(gsi: Gsi): void {
    const { ioapic, pin } = this.mustRoute(gsi);
    ioapic.pulse(pin);
  }

  /** A new line driving `gsi`, wired-OR with the other lines of that GSI. */
  createLine(gsi: Gsi): InterruptLine {
    this.mustRoute(gsi);
    return new GsiLine(this, gsi);
  }

  /** One of `gsi`'s lines changed state: the pin follows the OR of all of them. @internal */
  lineChanged(gsi: Gsi, asserted: boolean): void {
    const count = (this.assertedLines.get(gsi) ?? 0) + (asserted ? 1 : -1);
    this.assertedLines.set(gsi, count);
    if (count === (asserted ? 1 : 0)) this.setLevel(gsi, asserted);
  }

  /** A line of `gsi` pulsed: an edge, unless another line holds the GSI asserted. @internal */
  linePulsed(gsi: Gsi): void {
    if ((this.assertedLines.get(gsi) ?? 0) === 0) this.pulse(gsi);
  }

  private mustRoute(gsi: Gsi): GsiRoute {
    const route = this.route(gsi);
    if (route === undefined) throw new HardwareError('gsi-unrouted', `gsi: no IO-APIC serves GSI ${gsi} (served: ${this.describe()})`);
    return route;
  }

  private describe(): string {
    if (this.ioapics.length === 0) return 'none';
    return this.ioapics.map((a) => `${a.gsiBase}-${a.gsiBase + a.pins - 1}`).join(', ');
  }
}

/** A device's line into the router. */
class GsiLine implements InterruptLine {
  private state = false;

  constructor(
    private readonly router: GsiRouter,
    readonly gsi: Gsi,
  ) {}

  get asserted(): boolean {
    return this.state;
  }

  assert(): void {
    this.drive(true);
  }

  deassert(): void {
    this.drive(false);
  }

  pulse(): void {
    if (!this.state) this.router.linePulsed(this.gsi);
  }

  private drive(asserted: boolean): void {
    if (asserted === this.state) return;
    this.state = asserted;
    this.router.lineChanged(this.gsi, asserted);
  }
}

/** Makes the interrupt line handed to a device model wired to `gsi`. */
export function createInterruptLine(router: GsiRouter, gsi: Gsi): InterruptLine {
  return router.createLine(gsi);
}
