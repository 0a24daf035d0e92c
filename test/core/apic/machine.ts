/** A small test machine: an engine, an APIC bus and software-enabled local APICs with IDs 0..n-1. */
import { Engine } from '../../../core/engine/index.js';
import { APIC_SPIV, ApicBus, LocalApic, type ApicBusOptions, type LocalApicOptions } from '../../../core/apic/index.js';

export interface TestMachine {
  engine: Engine;
  bus: ApicBus;
  apics: LocalApic[];
  /** Per APIC, the events it reported, as strings (`init`, `startup 0x9a`, `nmi`, `interrupt`). */
  events: string[][];
}

export function machine(count = 2, busOptions: Omit<ApicBusOptions, 'engine'> = {}, apicOptions: Partial<LocalApicOptions> = {}): TestMachine {
  const engine = new Engine();
  const bus = new ApicBus({ engine, ...busOptions });
  const events: string[][] = [];
  const apics = Array.from({ length: count }, (_, i) => {
    const apic = new LocalApic(engine, { apicId: i, bsp: i === 0, ...apicOptions });
    bus.attach(apic);
    apic.writeRegister(APIC_SPIV, 0x1ff);
    const log: string[] = [];
    events.push(log);
    apic.events.on('interrupt', () => log.push('interrupt'));
    apic.events.on('nmi', () => log.push('nmi'));
    apic.events.on('init', () => log.push('init'));
    apic.events.on('extint', () => log.push('extint'));
    apic.events.on('startup', (v) => log.push(`startup 0x${v.toString(16)}`));
    return apic;
  });
  return { engine, bus, apics, events };
}

/** Vectors set in a bitmap, ascending. */
export function vectors(bitmap: { has(v: number): boolean }): number[] {
  const out: number[] = [];
  for (let v = 0; v < 256; v++) if (bitmap.has(v)) out.push(v);
  return out;
}
