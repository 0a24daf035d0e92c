/**
 * What an HVM, PVHVM or PVH vCPU's privileged instructions do (Xen's vmx_vmexit_handler and the
 * emulators behind it): every exit charges `vmExit` and is counted; port I/O and MMIO go to the
 * in-hypervisor vLAPIC/vIOAPIC, then to an ioreq server, then to the null handler.
 */
import type { PrivilegedInstruction, VcpuInstructions } from '../api/domain.js';
import type { CpuidResult } from '../api/platform.js';
import type { VcpuImpl } from '../cpu/vcpu.js';
import { IO_PENDING } from '../api/domain.js';
import type { VmExitReason } from '../api/hvm-platform.js';
import type { Logger } from '../api/log.js';
import { APIC_DEFAULT_PHYS_BASE, apicMmioRead, apicMmioWrite, MSR_IA32_APICBASE, MSR_IA32_TSC_DEADLINE, MSR_X2APIC_FIRST, MSR_X2APIC_LAST } from '../apic/index.js';
import { IO_APIC_MMIO_SIZE } from '../apic/io-apic.js';
import { VcpuGuestAccess } from '../mmu/vcpu-guest-access.js';
import type { Mmu } from '../mmu/mmu.js';
import { allOnes } from '../cpu/vcpu-api.js';
import type { HvmDomainPlatform, HvmVcpuState } from './domain-platform.js';
import { EXIT_IO_FORWARDED, EXIT_IO_WILD, EXIT_IO_WRITE, VMX_EXIT } from './exits.js';

const APIC_PAGE = 0x1000;
/** RFLAGS.IF. */
const X86_EFLAGS_IF = 1 << 9;

/** Whether `msr` is one the vLAPIC owns (IA32_APIC_BASE, TSC_DEADLINE, the x2APIC range). */
export function isApicMsr(msr: number): boolean {
  return msr === MSR_IA32_APICBASE || msr === MSR_IA32_TSC_DEADLINE || (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST);
}

export interface HvmInstructionsDeps {
  readonly platform: HvmDomainPlatform;
  readonly vcpu: HvmVcpuState;
  /** CPUID and the Xen MSRs, as the platform subsystem answers them (CPUID already charged and traced). */
  readonly base: Pick<VcpuInstructions, 'cpuid' | 'rdmsr' | 'wrmsr'>;
  readonly log: Logger;
}

/** Builds the instructions of one vCPU. */
export function hvmInstructions(deps: HvmInstructionsDeps): VcpuInstructions {
  return new HvmVcpuInstructions(deps);
}

/**
 * One vCPU's instructions: a class rather than a set of closures, because every vCPU of every
 * HVM/PVH domain holds one (ten thousand idle domains add up).
 */
class HvmVcpuInstructions implements VcpuInstructions {
  private readonly platform: HvmDomainPlatform;
  private readonly s: HvmVcpuState;
  private readonly v: VcpuImpl;

  constructor(private readonly deps: HvmInstructionsDeps) {
    this.platform = deps.platform;
    this.s = deps.vcpu;
    this.v = deps.vcpu.vcpu;
  }

  /** HLT: counted and charged as an exit (the `halt` request itself blocks). */
  hlt(): void {
    this.v.charge(this.v.cost.vmExit);
    this.platform.exits.exit('hlt', this.v.vcpuId, this.v.localTime, VMX_EXIT.HLT);
  }

  /** The vCPU's MMU, for TLB flushes (none until the host attaches the vCPU's guest access). */
  private mmu(): Mmu | undefined {
    return this.v.guest instanceof VcpuGuestAccess ? this.v.guest.mmu : undefined;
  }

  /** The page the vLAPIC decodes: its APIC base, or the reset base while it has not been made. */
  private apicPage(): number {
    const base = this.s.lapicMade?.apicBase ?? APIC_DEFAULT_PHYS_BASE;
    return base - (base % APIC_PAGE);
  }

  private exit(reason: VmExitReason, vmx: number, b = 0, c = 0): void {
    const v = this.v;
    v.charge(v.cost.vmExit);
    this.platform.exits.exit(reason, v.vcpuId, v.localTime, vmx, b, c);
  }

  /** The vLAPIC page and the vIOAPIC window, emulated in the hypervisor; undefined for anything else. */
  private inCore(space: 'pio' | 'mmio', addr: number, size: number, write: boolean, value: number): number | undefined {
    if (space !== 'mmio') return undefined;
    const apicBase = this.apicPage();
    if (addr >= apicBase && addr + size <= apicBase + APIC_PAGE && this.s.lapic.hardwareEnabled && !this.s.lapic.x2apicMode) {
      const lapic = this.s.lapic;
      return split(addr - apicBase, size, write, value, (o, n) => apicMmioRead(lapic, o, n), (o, n, x) => apicMmioWrite(lapic, o, n, x));
    }
    const io = this.platform.ioApic;
    if (io !== undefined && addr >= io.base && addr + size <= io.base + IO_APIC_MMIO_SIZE) {
      const h = io.mmio;
      return split(addr - io.base, size, write, value, (o, n) => h.read(o, n as 1 | 2 | 4), (o, n, x) => h.write(o, n as 1 | 2 | 4, x));
    }
    return undefined;
  }

  /** Xen's null handler: what no one claims reads all ones and drops writes. */
  private nullHandler(space: 'pio' | 'mmio', addr: number, size: number, write: boolean): number {
    const exits = this.platform.exits;
    exits.wild++;
    // Rate-limited: the 1st, 2nd, 4th, 8th... wild access of the domain is logged.
    if ((exits.wild & (exits.wild - 1)) === 0) {
      this.deps.log.warn(`dom${this.platform.domid} vcpu${this.v.vcpuId}: ${write ? 'write to' : 'read of'} unclaimed ${space === 'pio' ? 'port' : 'MMIO address'} 0x${addr.toString(16)} (${size} bytes): ${write ? 'dropped' : 'reads all ones'} (${exits.wild} such accesses so far)`);
    }
    return write ? 0 : allOnes(size);
  }

  cpuid(leaf: number, subleaf: number): CpuidResult {
    const result = this.deps.base.cpuid(leaf, subleaf);
    this.platform.exits.exit('cpuid', this.v.vcpuId, this.v.localTime, VMX_EXIT.CPUID, leaf, subleaf, true);
    return result;
  }

  rdmsr(msr: number): bigint {
    this.exit('msr', VMX_EXIT.MSR_READ, msr);
    return isApicMsr(msr) ? this.s.lapic.readMsr(msr) : this.deps.base.rdmsr(msr);
  }

  wrmsr(msr: number, value: bigint): void {
    this.exit('msr', VMX_EXIT.MSR_WRITE, msr);
    if (isApicMsr(msr)) this.s.lapic.writeMsr(msr, value);
    else this.deps.base.wrmsr(msr, value);
  }

  io(space: 'pio' | 'mmio', addr: number, size: number, write: boolean, value: number): number {
    const platform = this.platform;
    const lapicPage = space === 'mmio' && addr >= this.apicPage() && addr < this.apicPage() + APIC_PAGE;
    const reason: VmExitReason = space === 'pio' ? 'io' : lapicPage ? 'apic' : 'mmio';
    const vmx = space === 'pio' ? VMX_EXIT.IO_INSTRUCTION : lapicPage ? VMX_EXIT.APIC_ACCESS : platform.shadow ? VMX_EXIT.EXCEPTION_NMI : VMX_EXIT.EPT_VIOLATION;
    let flags = (size << 4) | (write ? EXIT_IO_WRITE : 0);
    const handled = this.inCore(space, addr, size, write, value);
    if (handled !== undefined) {
      this.exit(reason, vmx, addr, flags);
      return handled;
    }
    const server = platform.servers.find((x) => x.claims(space, addr, size));
    if (server !== undefined) {
      this.exit(reason, vmx, addr, flags | EXIT_IO_FORWARDED);
      platform.exits.forwarded++;
      server.send(this.s, space, addr, size, write, value);
      return IO_PENDING;
    }
    flags |= EXIT_IO_WILD;
    this.exit(reason, vmx, addr, flags);
    return this.nullHandler(space, addr, size, write);
  }

  ioResult(): number {
    return this.s.ioResult;
  }

  acceptInterrupt(): number {
    const lapic = this.s.lapicMade; // an untouched vLAPIC has nothing pending
    if (lapic === undefined || lapic.pendingVector === undefined) return -1;
    const vector = lapic.acknowledge();
    this.v.charge(this.v.cost.interruptInject);
    this.platform.exits.interrupts++;
    return vector;
  }

  privileged(insn: PrivilegedInstruction, operand: number): number {
    const platform = this.platform;
    const regs = this.v.context;
    switch (insn) {
      case 'read-cr0':
        return regs.cr0;
      case 'read-cr4':
        return regs.cr4;
      case 'read-cr3':
        if (platform.shadow) this.exit('cr', VMX_EXIT.CR_ACCESS, 3);
        return regs.cr3;
      case 'write-cr0':
        this.exit('cr', VMX_EXIT.CR_ACCESS, 0, operand);
        regs.cr0 = operand >>> 0;
        return 0;
      case 'write-cr4':
        this.exit('cr', VMX_EXIT.CR_ACCESS, 4, operand);
        regs.cr4 = operand >>> 0;
        return 0;
      case 'write-cr3':
        if (platform.shadow) this.exit('cr', VMX_EXIT.CR_ACCESS, 3, operand);
        regs.cr3 = operand;
        this.mmu()?.writeCr3(operand);
        return 0;
      case 'invlpg':
        if (platform.shadow) this.exit('invlpg', VMX_EXIT.INVLPG, operand);
        this.mmu()?.invlpg(operand);
        return 0;
      case 'wbinvd':
        this.exit('wbinvd', VMX_EXIT.WBINVD);
        return 0;
      case 'cli':
        regs.rflags &= ~X86_EFLAGS_IF;
        return 0;
      case 'sti':
        regs.rflags |= X86_EFLAGS_IF;
        return 0;
      case 'lidt':
      case 'lgdt':
        return 0;
    }
  }
}

/** An access through a 32-bit register window: 8-byte accesses become two 4-byte ones, low half first. */
function split(
  offset: number,
  size: number,
  write: boolean,
  value: number,
  read: (offset: number, size: number) => number,
  store: (offset: number, size: number, value: number) => void,
): number {
  if (size === 8) {
    if (write) {
      store(offset, 4, value % 0x1_0000_0000 >>> 0);
      store(offset + 4, 4, Math.floor(value / 0x1_0000_0000) >>> 0);
      return 0;
    }
    return read(offset, 4) + read(offset + 4, 4) * 0x1_0000_0000;
  }
  if (write) {
    store(offset, size, value);
    return 0;
  }
  return read(offset, size);
}
