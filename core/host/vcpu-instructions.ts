/**
 * What each vCPU's privileged instructions do, by guest mode: HVM, PVHVM and PVH vCPUs get the HVM
 * platform's (VM exits, vLAPIC, ioreq servers); PV vCPUs get the PV MMU's trap-and-emulate when it
 * provides one, else nothing but CPUID and the Xen MSRs.
 */
import type { DependencyContainer } from 'tsyringe';
import type { Domain, PrivilegedInstruction } from '../api/domain.js';
import type { Platform } from '../api/platform.js';
import { PvMm as PvMmToken } from '../api/pv-mm.js';
import type { VcpuImpl } from '../cpu/index.js';
import { NO_INSTRUCTIONS } from '../cpu/vcpu-api.js';
import type { HvmPlatformsImpl } from '../hvm/hvm-platforms.js';

/** What the PV MMU (core/pv-mm, `PvMmImpl`) offers for PV vCPUs' privileged instructions and port I/O. */
interface PvEmulation {
  emulatePrivileged(domid: number, vcpu: number, insn: PrivilegedInstruction, operand: number): number;
  emulateIo(domid: number, vcpu: number, space: 'pio' | 'mmio', addr: number, size: number, write: boolean, value: number): number;
}

/** The `PvMm` provider's trap-and-emulate entry points, when it is registered and has them. */
function pvEmulation(container: DependencyContainer): PvEmulation | undefined {
  if (!container.isRegistered(PvMmToken, true)) return undefined;
  const pvMm = container.resolve(PvMmToken) as Partial<PvEmulation>;
  return typeof pvMm.emulatePrivileged === 'function' && typeof pvMm.emulateIo === 'function' ? (pvMm as PvEmulation) : undefined;
}

/** Sets `v.instructions` on every vCPU of a new domain. */
export function installInstructions(d: Domain, deps: { container: DependencyContainer; platform: Platform; hvm: HvmPlatformsImpl }): void {
  const { platform, hvm } = deps;
  const pv = d.mode === 'pv' ? pvEmulation(deps.container) : undefined;
  for (const v of d.vcpus as VcpuImpl[]) {
    const vcpu = v.vcpuId;
    const base = {
      cpuid: (leaf: number, subleaf: number) => platform.cpuid(d.domid, vcpu, leaf, subleaf),
      rdmsr: (msr: number) => platform.rdmsr(d.domid, vcpu, msr),
      wrmsr: (msr: number, value: bigint) => platform.wrmsr(d.domid, vcpu, msr, value),
    };
    if (d.mode !== 'pv') v.instructions = hvm.instructionsFor(d.domid, vcpu, base);
    else if (pv === undefined) v.instructions = { ...NO_INSTRUCTIONS, ...base };
    else {
      v.instructions = {
        ...NO_INSTRUCTIONS,
        ...base,
        privileged: (insn, operand) => pv.emulatePrivileged(d.domid, vcpu, insn, operand),
        io: (space, addr, size, write, value) => pv.emulateIo(d.domid, vcpu, space, addr, size, write, value),
      };
    }
  }
}
