/**
 * copy_from_guest / copy_to_guest for one vCPU: through its MMU while its CR0.PG is set, through its
 * domain's P2M (guest-physical) while paging is off. The register file is the one truth: the MMU is
 * brought in step with CR0/CR3/CR4/EFER before each access.
 */
import { GuestError, XenoError } from '../api/errors.js';
import { PAGE_OK, PAGE_SLOW, PAGE_ZERO, type DomainGuestMemory } from '../memory/guest-memory.js';
import { PAGE_MASK } from '../public/memory.js';
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
  phys: DomainGuestMemory;
  cost: CostModel;
  /** Charges the access (translation plus copy) to the vCPU. */
  charge(cycles: number): void;
}

/**
 * Single-page accesses with paging off — nearly every hypercall argument — take a fast path straight
 * to the frame's bytes; everything else goes through the MMU or the P2M range check.
 */
export class VcpuGuestAccess extends GuestAccessBase {
  private mmuInstance: Mmu | undefined;
  private readonly copyCost: number;

  constructor(private readonly o: VcpuGuestAccessOptions) {
    super();
    this.copyCost = o.cost.copyPerByte;
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
    if ((this.o.regs.cr0 & X86_CR0_PG) === 0) {
      const k = this.o.phys.page(addr, length, false);
      if (k !== PAGE_SLOW) {
        this.o.charge(length * this.copyCost);
        const offset = addr & PAGE_MASK;
        return k === PAGE_OK ? this.o.phys.pageBytes!.slice(offset, offset + length) : new Uint8Array(length);
      }
    }
    return this.slow(addr, length, null);
  }

  override readInto(addr: number, into: Uint8Array): void {
    const length = into.length;
    if ((this.o.regs.cr0 & X86_CR0_PG) === 0) {
      const k = this.o.phys.page(addr, length, false);
      if (k !== PAGE_SLOW) {
        this.o.charge(length * this.copyCost);
        if (k === PAGE_ZERO) into.fill(0);
        else {
          const b = this.o.phys.pageBytes!;
          const offset = addr & PAGE_MASK;
          if (length <= 64) for (let i = 0; i < length; i++) into[i] = b[offset + i]!;
          else into.set(b.subarray(offset, offset + length));
        }
        return;
      }
    }
    into.set(this.slow(addr, length, null));
  }

  write(addr: number, data: Uint8Array): void {
    if ((this.o.regs.cr0 & X86_CR0_PG) === 0 && this.o.phys.page(addr, data.length, true) === PAGE_OK) {
      const length = data.length;
      this.o.charge(length * this.copyCost);
      const b = this.o.phys.pageBytes!;
      const offset = addr & PAGE_MASK;
      if (length <= 64) for (let i = 0; i < length; i++) b[offset + i] = data[i]!;
      else b.set(data, offset);
      return;
    }
    this.slow(addr, data.length, data);
  }

  override readU32(addr: number): number {
    if ((this.o.regs.cr0 & X86_CR0_PG) === 0) {
      const k = this.o.phys.page(addr, 4, false);
      if (k === PAGE_ZERO) return 0;
      if (k === PAGE_OK) {
        this.o.charge(4 * this.copyCost);
        const b = this.o.phys.pageBytes!;
        const i = addr & PAGE_MASK;
        return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
      }
    }
    return super.readU32(addr);
  }

  override writeU32(addr: number, value: number): void {
    if ((this.o.regs.cr0 & X86_CR0_PG) === 0 && this.o.phys.page(addr, 4, true) === PAGE_OK) {
      this.o.charge(4 * this.copyCost);
      const b = this.o.phys.pageBytes!;
      const i = addr & PAGE_MASK;
      b[i] = value & 0xff;
      b[i + 1] = (value >>> 8) & 0xff;
      b[i + 2] = (value >>> 16) & 0xff;
      b[i + 3] = (value >>> 24) & 0xff;
      return;
    }
    super.writeU32(addr, value);
  }

  /** Every other access: through the MMU when paging is on, else the P2M range check; faults become EFAULT. */
  private slow(addr: number, length: number, data: Uint8Array | null): Uint8Array {
    const what = data === null ? 'read' : 'write';
    if (!Number.isFinite(addr) || !Number.isInteger(length) || length < 0) {
      throw new GuestError('EFAULT', `vcpu${this.o.vcpu}: bad guest ${what} of ${length} bytes at ${addr}`, { domid: this.o.domid });
    }
    try {
      const mmu = this.paging();
      if (data === null) return mmu ? mmu.readVirt(addr, length) : this.o.phys.read(guestPhysAddr(addr), length);
      if (mmu) mmu.writeVirt(addr, data);
      else this.o.phys.write(guestPhysAddr(addr), data);
      return data;
    } catch (error) {
      if (error instanceof GuestError) throw error;
      if (error instanceof XenoError) throw new GuestError('EFAULT', `vcpu${this.o.vcpu}: cannot ${what} ${length} bytes at 0x${addr.toString(16)}: ${error.detail}`, { domid: this.o.domid });
      throw error;
    } finally {
      this.o.charge((this.mmuInstance?.takeCycles() ?? 0) + length * this.copyCost);
    }
  }

  /** The MMU brought in step with the register file, or undefined while paging is off. */
  private paging(): Mmu | undefined {
    const { regs } = this.o;
    if ((regs.cr0 & X86_CR0_PG) === 0 || this.o.mmu === undefined) return undefined;
    const mmu = (this.mmuInstance ??= this.o.mmu());
    if (mmu.cr0 !== regs.cr0) mmu.writeCr0(regs.cr0);
    if (mmu.cr4 !== regs.cr4) mmu.writeCr4(regs.cr4);
    if (mmu.efer !== regs.efer) mmu.writeEfer(regs.efer);
    if (mmu.cr3 !== regs.cr3) mmu.writeCr3(regs.cr3);
    return mmu;
  }
}
