/**
 * What each vCPU's privileged instructions do, by guest mode: HVM, PVHVM and PVH vCPUs get the HVM
 * platform's (VM exits, vLAPIC, ioreq servers); PV vCPUs get the PV MMU's trap-and-emulate when it
 * provides one, else nothing but CPUID and the Xen MSRs.
 */
import type { DependencyContainer } from 'tsyringe';
import type { Domain, PrivilegedInstruction, VcpuInstructions } from '../api/domain.js';
import type { CpuidResult, Platform } from '../api/platform.js';
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

/**
 * CPUID and the Xen MSRs as the platform subsystem answers them for one vCPU; PV vCPUs also get the PV
 * MMU's trap-and-emulate when there is one, everything else as {@link NO_INSTRUCTIONS}. A class, not
 * closures: every vCPU of every domain holds one.
 */
class CoreInstructions implements VcpuInstructions {
  constructor(
    private readonly platform: Platform,
    private readonly domid: number,
    private readonly vcpu: number,
    private readonly pv: PvEmulation | undefined,
  ) {}

  cpuid(leaf: number, subleaf: number): CpuidResult {
    return this.platform.cpuid(this.domid, this.vcpu, leaf, subleaf);
  }

  rdmsr(msr: number): bigint {
    return this.platform.rdmsr(this.domid, this.vcpu, msr);
  }

  wrmsr(msr: number, value: bigint): void {
    this.platform.wrmsr(this.domid, this.vcpu, msr, value);
  }

  io(space: 'pio' | 'mmio', addr: number, size: number, write: boolean, value: number): number {
    return this.pv === undefined ? NO_INSTRUCTIONS.io(space, addr, size, write, value) : this.pv.emulateIo(this.domid, this.vcpu, space, addr, size, write, value);
  }

  ioResult(): number {
    return 0;
  }

  acceptInterrupt(): number {
    return -1;
  }

  privileged(insn: PrivilegedInstruction, operand: number): number {
    return this.pv === undefined ? NO_INSTRUCTIONS.privileged(insn, operand) : this.pv.emulatePrivileged(this.domid, this.vcpu, insn, operand);
  }
}

/** Sets `v.instructions` on every vCPU of a new domain. */
export function installInstructions(d: Domain, deps: { container: DependencyContainer; platform: Platform; hvm: HvmPlatformsImpl }): void {
  const { platform, hvm } = deps;
  const pv = d.mode === 'pv' ? pvEmulation(deps.container) : undefined;
  for (const v of d.vcpus as VcpuImpl[]) {
    const base = new CoreInstructions(platform, d.domid, v.vcpuId, pv);
    v.instructions = d.mode === 'pv' ? base : hvm.instructionsFor(d.domid, v.vcpuId, base);
  }
}
