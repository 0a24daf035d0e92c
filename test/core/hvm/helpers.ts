/** Test helpers for the HVM platform: a booted host with HVM/PVH/PV guests, vLAPIC register access from guest code, the in-core APIs. */
import { bootTestHost, vcpuOf, type TestGuest } from '../../hypervisor/harness.js';
import { Host } from '../../../core/host/host.js';
import { resolveHostDefinition } from '../../../core/config/host.js';
import { MemoryLogSink as LogSink } from '../../../core/api/log.js';
import { treeCatalog } from '../../../plugins/catalog.js';
import { coreFeaturesOf } from '../../../core/cli/machine.js';
import type { VcpuApi, VcpuRequest } from '../../../core/api/domain.js';
import { IoreqServers } from '../../../core/api/hvm.js';
import { HvmPlatforms } from '../../../core/api/hvm-platform.js';
import type { HvmPlatformsImpl } from '../../../core/hvm/hvm-platforms.js';
import type { MemoryLogSink } from '../../../core/api/log.js';

export const LAPIC = 0xfee0_0000;
export const IOAPIC = 0xfec0_0000;
/** xAPIC register offsets used by the tests. */
export const REG = { ID: 0x20, EOI: 0xb0, SVR: 0xf0, ISR: 0x100, IRR: 0x200, ICR: 0x300, ICR2: 0x310, LVTT: 0x320, TMICT: 0x380, TDCR: 0x3e0 } as const;

export async function bootHvmHost(guests: TestGuest[], cpus = 2): Promise<{ host: Host; logs: MemoryLogSink }> {
  return bootTestHost({ cpus, guests });
}

/** A host whose HVM and PVH guests use shadow paging (the definition's `paging: shadow`). */
export async function bootShadowHost(guests: TestGuest[]): Promise<Host> {
  const definition = {
    name: 'shadow',
    seed: 1,
    cpus: 2,
    memory: '512MiB',
    paging: 'shadow',
    dom0: { memory: '64MiB', vcpus: 1 },
    plugins: ['credit'],
    domains: guests.map((g) => ({ name: g.name, type: g.type ?? 'hvm', kernel: 'generic', memory: g.memory ?? 16, vcpus: g.vcpus ?? 1 })),
  };
  const r = resolveHostDefinition(definition, { file: 'shadow.yaml', loadDomainFile: () => ({ errors: [], warnings: [] }) });
  if (!r.host) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return Host.boot(r.host, { catalog: treeCatalog, coreFeatures: await coreFeaturesOf(treeCatalog), logSink: new LogSink().sink });
}

export function platforms(host: Host): HvmPlatformsImpl {
  return host.container.resolve(HvmPlatforms) as HvmPlatformsImpl;
}

export function ioreqServers(host: Host) {
  return host.container.resolve(IoreqServers);
}

/** Software-enables the vCPU's local APIC (SVR bit 8, spurious vector 0xff). */
export function* enableApic(v: VcpuApi): Generator<VcpuRequest, void, unknown> {
  yield* v.mmioWrite(LAPIC + REG.SVR, 4, 0x1ff);
}

/** Programs IO-APIC pin `pin` to deliver `vector` (fixed, physical, edge unless `level`) to APIC ID `dest`. */
export function* routePin(v: VcpuApi, pin: number, vector: number, dest = 0, level = false): Generator<VcpuRequest, void, unknown> {
  yield* v.mmioWrite(IOAPIC, 4, 0x10 + 2 * pin + 1);
  yield* v.mmioWrite(IOAPIC + 0x10, 4, dest << 24);
  yield* v.mmioWrite(IOAPIC, 4, 0x10 + 2 * pin);
  yield* v.mmioWrite(IOAPIC + 0x10, 4, vector | (level ? 1 << 15 : 0));
}

/** Halts until an interrupt is deliverable, then takes it: returns the vector and when it was taken. */
export function* waitInterrupt(v: VcpuApi): Generator<VcpuRequest, { vector: number; at: number }, unknown> {
  for (;;) {
    const vector = v.acceptInterrupt();
    if (vector >= 0) return { vector, at: v.now };
    yield v.halt();
  }
}

/** Whether `vector`'s bit is set in the 256-bit register bank at `base` (ISR, IRR). */
export function* apicBit(v: VcpuApi, base: number, vector: number): Generator<VcpuRequest, boolean, unknown> {
  const word = yield* v.mmioRead(LAPIC + base + (vector >>> 5) * 0x10, 4);
  return (word & (1 << (vector & 31))) !== 0;
}

export { vcpuOf };
