/**
 * Interrupt dispatch on native x86 (FreeBSD's x86/x86/intr_machdep.c, much reduced): handlers bound
 * to IDT vectors, and the loop the idle thread runs after HLT — take every deliverable vector from the
 * local APIC, run its handler, send the EOI.
 */
import type { VcpuApi, VcpuRequest } from '../../../../core/api/index.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** What runs on a vector. */
export interface VectorHandler {
  /** `irq4: uart0`, `lapic: timer`. */
  readonly name: string;
  handle(): Gen;
}

/** Vectors taken before the loop gives up for this wake-up (an interrupt storm must not starve the kernel). */
const MAX_VECTORS_PER_WAKE = 256;

export class IntrVectors {
  private readonly handlers = new Map<number, VectorHandler>();
  private readonly counts = new Map<number, number>();
  /** Vectors taken since their last {@link takeFired} (what the event waiter reports as "pending"). */
  private readonly fired = new Set<number>();
  /** Vectors that arrived with no handler bound (stray interrupts). */
  stray = 0;
  /** Work to push out before the CPU halts (the UART's transmit queue). */
  readonly beforeHalt: (() => Gen)[] = [];

  /** `eoi`: the local APIC's end-of-interrupt write. */
  constructor(
    private readonly v: VcpuApi,
    private readonly eoi: () => Gen,
  ) {}

  /** Binds `vector` (32-255); a vector has one handler. */
  bind(vector: number, handler: VectorHandler): void {
    if (!Number.isInteger(vector) || vector < 32 || vector > 255) throw new Error(`intr: vector ${vector} is not an external vector (32-255)`);
    const held = this.handlers.get(vector);
    if (held !== undefined) throw new Error(`intr: vector 0x${vector.toString(16)} already bound to ${held.name}`);
    this.handlers.set(vector, handler);
  }

  /** Takes and handles every deliverable vector, each followed by its EOI. Returns how many it took. */
  *serve(): Gen<number> {
    let taken = 0;
    for (let vector = this.v.acceptInterrupt(); vector >= 0; vector = this.v.acceptInterrupt()) {
      const handler = this.handlers.get(vector);
      this.counts.set(vector, (this.counts.get(vector) ?? 0) + 1);
      this.fired.add(vector);
      if (handler === undefined) this.stray++;
      else yield* handler.handle();
      yield* this.eoi();
      if (++taken >= MAX_VECTORS_PER_WAKE) break;
    }
    return taken;
  }

  /** True when `vector` was taken since the last call; clears it. */
  takeFired(vector: number): boolean {
    return this.fired.delete(vector);
  }

  /** True when `vector` was taken and not yet claimed by {@link takeFired}. */
  hasFired(vector: number): boolean {
    return this.fired.has(vector);
  }

  /** Runs the before-halt work, then HLT, then takes what woke the CPU. */
  *halt(): Gen {
    for (const work of this.beforeHalt) yield* work();
    yield this.v.halt();
    yield* this.serve();
  }

  /** `vmstat -i`: one line per bound vector with its count. */
  stats(): string[] {
    return [...this.handlers].sort(([a], [b]) => a - b).map(([vector, h]) => `${h.name.padEnd(24)} vector 0x${vector.toString(16)} ${this.counts.get(vector) ?? 0}`);
  }

  /** How many times `vector` was taken. */
  count(vector: number): number {
    return this.counts.get(vector) ?? 0;
  }
}
