/** One table of what simulated operations cost, in CPU cycles. A machine definition may override any entry. */

/**
 * Cycle costs. Sources for the defaults are in docs/cost-model.md; the figures are published
 * measurements of real hardware, rounded.
 */
export interface CostModel {
  /** Core clock of every physical CPU, in MHz; converts cycles to nanoseconds. */
  cpuMhz: number;
  /** Round trip of a hardware VM exit and re-entry (VMX/SVM), handled in the hypervisor. */
  vmExit: number;
  /** A hypercall's entry and exit, excluding the work it does. */
  hypercall: number;
  /** A PV guest's privileged instruction that traps to the hypervisor and is emulated. */
  trapEmulate: number;
  /** A TLB hit (translation from the TLB, no walk). */
  tlbHit: number;
  /** Fixed cost of a TLB miss before the walk's memory references. */
  tlbMiss: number;
  /** One memory reference made by a page walk (either stage). */
  pageWalkRef: number;
  /** An IPI between physical CPUs, native. */
  ipiNative: number;
  /** A virtual IPI between vCPUs of a guest (send exit, injection, target exit). */
  ipiVirtual: number;
  /** Interrupt injection into a running vCPU. */
  interruptInject: number;
  /** A vCPU context switch on a physical CPU. */
  contextSwitch: number;
  /** Cost per byte of a memory copy made by the hypervisor (grant copy, copy_to_guest). */
  copyPerByte: number;
  /** An emulated port-I/O or MMIO round trip through a device model in Dom0. */
  emulatedIo: number;
  /** A guest memory access that hits (no translation cost). */
  memoryAccess: number;
}

/** The defaults, documented in docs/cost-model.md. */
export const DEFAULT_COST_MODEL: Readonly<CostModel> = Object.freeze({
  cpuMhz: 3000,
  vmExit: 1500,
  hypercall: 1200,
  trapEmulate: 2500,
  tlbHit: 1,
  tlbMiss: 20,
  pageWalkRef: 40,
  ipiNative: 2000,
  ipiVirtual: 5500,
  interruptInject: 300,
  contextSwitch: 2000,
  copyPerByte: 0.25,
  emulatedIo: 10000,
  memoryAccess: 4,
});

export type CostName = Exclude<keyof CostModel, 'cpuMhz'>;

/** Builds a cost model from the defaults and a partial override, rejecting unknown or negative entries. */
export function makeCostModel(overrides: Partial<Record<string, number>> = {}): CostModel {
  const model: CostModel = { ...DEFAULT_COST_MODEL };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in DEFAULT_COST_MODEL)) throw new Error(`unknown cost "${key}" (known: ${Object.keys(DEFAULT_COST_MODEL).join(', ')})`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`cost "${key}" must be a non-negative number, got ${String(value)}`);
    if (key === 'cpuMhz' && value === 0) throw new Error('cost "cpuMhz" must be positive');
    (model as unknown as Record<string, number>)[key] = value;
  }
  return model;
}

/** Nanoseconds taken by `cycles` at the model's clock. */
export function cyclesToNs(model: CostModel, cycles: number): number {
  return (cycles * 1000) / model.cpuMhz;
}
