/**
 * copy_from_guest / copy_to_guest for one vCPU: through its MMU while its CR0.PG is set, through its
 * domain's P2M (guest-physical) while paging is off. The register file is the one truth: the MMU is
 * brought in step with CR0/CR3/CR4/EFER before each access.
 */
import { GuestError, XenoError } from '../api/errors.js';
import type { GuestMemory } from '../api/memory.js';
import type { CostModel } from '../engine/cost-model.js';
import { GuestAccessBase } from '../memory/guest-access.js';
import { X86_CR0_PG } from '../public/paging.js';
import { guestPhysAddr } from '../public/types.js';
import type { Mmu } from './mmu.js';

/** The control registers the access path reads (a vCPU's register file satisfies it). */
export interface ControlRegisters {
  readonly cr0: number;
  readonly cr3: number;
  readonly cr4: number;
  readonly efer: number;
}

export interface VcpuGuestAccessOptions {
  domid: number;
  vcpu: number;
  regs: ControlRegisters;
  /** Makes the vCPU's MMU on its first paged access (idle domains never pay for one). */
  mmu?: () => Mmu;
  phys: GuestMemory;
  cost: CostModel;
  /** Charges the access (translation plus copy) to the vCPU. */
  charge(cycles: number): void;
}

export class VcpuGuestAccess extends GuestAccessBase {
  private mmuInstance: Mmu | undefined;

  constructor(private readonly o: VcpuGuestAccessOptions) {
    super();
  }

  /** The MMU, once a paged access has made it. */
  get mmu(): Mmu | undefined {
    return this.mmuInstance;
  }

  /** Releases the MMU's paging-mode state. */
  dispose(): void {
    this.mmuInstance?.dispose();
    this.mmuInstance = undefined;
  }

  read(addr: number, length: number): Uint8Array {
    return this.access(addr, length, 'read', () => (this.paging() ? this.mmuInstance!.readVirt(addr, length) : this.o.phys.read(guestPhysAddr(addr), length)));
  }

  write(addr: number, data: Uint8Array): void {
    this.access(addr, data.length, 'write', () => (this.paging() ? this.mmuInstance!.writeVirt(addr, data) : this.o.phys.write(guestPhysAddr(addr), data)));
  }

  private paging(): boolean {
    const { regs } = this.o;
    if ((regs.cr0 & X86_CR0_PG) === 0 || this.o.mmu === undefined) return false;
    const mmu = (this.mmuInstance ??= this.o.mmu());
    if (mmu.cr0 !== regs.cr0) mmu.writeCr0(regs.cr0);
    if (mmu.cr4 !== regs.cr4) mmu.writeCr4(regs.cr4);
    if (mmu.efer !== regs.efer) mmu.writeEfer(regs.efer);
    if (mmu.cr3 !== regs.cr3) mmu.writeCr3(regs.cr3);
    return true;
  }

  private access<T>(addr: number, length: number, what: 'read' | 'write', run: () => T): T {
    if (!Number.isFinite(addr) || !Number.isInteger(length) || length < 0) {
      throw new GuestError('EFAULT', `vcpu${this.o.vcpu}: bad guest ${what} of ${length} bytes at ${addr}`, { domid: this.o.domid });
    }
    try {
      return run();
    } catch (error) {
      if (error instanceof GuestError) throw error;
      if (error instanceof XenoError) throw new GuestError('EFAULT', `vcpu${this.o.vcpu}: cannot ${what} ${length} bytes at 0x${addr.toString(16)}: ${error.detail}`, { domid: this.o.domid });
      throw error;
    } finally {
      this.o.charge((this.mmuInstance?.takeCycles() ?? 0) + length * this.o.cost.copyPerByte);
    }
  }
}
