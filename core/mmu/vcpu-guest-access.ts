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
  /** Changes whenever any of the four is written: the access path re-reads them only then. */
  readonly controlEpoch: number;
}

export interface VcpuGuestAccessOptions {
  domid: number;
  vcpu: number;
  regs: ControlRegisters;
  /** Makes the vCPU's MMU on its first paged access (idle domains never pay for one); absent: paging stays off. */
  mmu?: MmuSource;
  phys: DomainGuestMemory;
  cost: CostModel;
  /** Who is charged for each access (translation plus copy): the vCPU. */
  payer: { charge(cycles: number): void };
}

/** Where a vCPU's MMU comes from: one per domain, shared by its vCPUs (objects, not closures: there are many). */
export interface MmuSource {
  makeMmu(vcpu: number): Mmu;
}

/**
 * Single-page accesses — nearly every hypercall argument and ring index — take a fast path straight to
 * the frame's bytes: through the P2M with paging off, through the MMU's TLB with paging on. Everything
 * else goes through {@link slow} (the MMU's range copies or the P2M range check). Both paths charge the
 * same cycles and raise the same errors.
 */
export class VcpuGuestAccess extends GuestAccessBase {
  private mmuInstance: Mmu | undefined;
  private readonly copyCost: number;
  /** After {@link page} returned PAGE_OK: the frame's bytes and where the access starts in them. */
  private bytes: Uint8Array = EMPTY;
  private at = 0;
  // The options' fields, held here: every access reads them, and one object is one cache line fewer.
  private readonly regs: ControlRegisters;
  private readonly phys: DomainGuestMemory;
  private readonly payer: VcpuGuestAccessOptions['payer'];
  private readonly mmuSource: MmuSource | undefined;
  private readonly domid: number;
  private readonly vcpu: number;
  /** `regs.controlEpoch` when {@link sync} last read the registers (−1: never), and what it found. */
  private controlEpoch = -1;
  private pagingOn = false;

  constructor(o: VcpuGuestAccessOptions) {
    super();
    this.copyCost = o.cost.copyPerByte;
    this.regs = o.regs;
    this.phys = o.phys;
    this.payer = o.payer;
    this.mmuSource = o.mmu;
    this.domid = o.domid;
    this.vcpu = o.vcpu;
  }

  /** The MMU, once a paged access has made it. */
  get mmu(): Mmu | undefined {
    return this.mmuInstance;
  }

  /** Releases the MMU's paging-mode state. */
  dispose(): void {
    this.mmuInstance?.dispose();
    this.mmuInstance = undefined;
    this.controlEpoch = -1;
  }

  read(addr: number, length: number): Uint8Array {
    const k = this.page(addr, length, false);
    if (k === PAGE_OK) return this.bytes.slice(this.at, this.at + length);
    if (k === PAGE_ZERO) return new Uint8Array(length);
    return this.slow(addr, length, null);
  }

  override readInto(addr: number, into: Uint8Array): void {
    const length = into.length;
    const k = this.page(addr, length, false);
    if (k === PAGE_ZERO) into.fill(0);
    else if (k === PAGE_OK) {
      const b = this.bytes;
      const offset = this.at;
      if (length <= 64) for (let i = 0; i < length; i++) into[i] = b[offset + i]!;
      else into.set(b.subarray(offset, offset + length));
    } else into.set(this.slow(addr, length, null));
  }

  write(addr: number, data: Uint8Array): void {
    const length = data.length;
    if (this.page(addr, length, true) === PAGE_OK) {
      const b = this.bytes;
      const offset = this.at;
      // A byte loop costs V8 a few ns a byte, set() a fixed ~30 ns: the loop only for a word or less.
      if (length <= 8) for (let i = 0; i < length; i++) b[offset + i] = data[i]!;
      else b.set(data, offset);
      return;
    }
    this.slow(addr, length, data);
  }

  override readU16(addr: number): number {
    const k = this.page(addr, 2, false);
    if (k === PAGE_ZERO) return 0;
    if (k === PAGE_OK) return this.bytes[this.at]! | (this.bytes[this.at + 1]! << 8);
    return super.readU16(addr);
  }

  override readU32(addr: number): number {
    if (this.regs.controlEpoch !== this.controlEpoch) this.sync();
    if (!this.pagingOn) {
      // Paging off (ring indexes, grant entries): one P2M lookup; an untouched page reads as 0 uncharged, as it always has.
      const phys = this.phys;
      const k = phys.page(addr, 4, false);
      if (k === PAGE_ZERO) return 0;
      if (k === PAGE_SLOW) return super.readU32(addr);
      this.payer.charge(4 * this.copyCost);
      return u32(phys.pageBytes!, addr & PAGE_MASK);
    }
    const k = this.page(addr, 4, false);
    if (k === PAGE_ZERO) return 0;
    if (k === PAGE_OK) return u32(this.bytes, this.at);
    return super.readU32(addr);
  }

  override readU64(addr: number): number {
    const k = this.page(addr, 8, false);
    if (k === PAGE_ZERO) return 0;
    if (k === PAGE_OK) return (u32(this.bytes, this.at + 4) | 0) * 2 ** 32 + u32(this.bytes, this.at);
    return super.readU64(addr);
  }

  override readU64Big(addr: number): bigint {
    const k = this.page(addr, 8, false);
    if (k === PAGE_ZERO) return 0n;
    if (k === PAGE_OK) return (BigInt(u32(this.bytes, this.at + 4)) << 32n) | BigInt(u32(this.bytes, this.at));
    return super.readU64Big(addr);
  }

  override writeU16(addr: number, value: number): void {
    if (this.page(addr, 2, true) !== PAGE_OK) return super.writeU16(addr, value);
    this.bytes[this.at] = value & 0xff;
    this.bytes[this.at + 1] = (value >>> 8) & 0xff;
  }

  override writeU32(addr: number, value: number): void {
    if (this.page(addr, 4, true) !== PAGE_OK) return super.writeU32(addr, value);
    putU32(this.bytes, this.at, value);
  }

  override writeU64(addr: number, value: number): void {
    const v = Math.trunc(value);
    // Negative or huge values keep the base class's modulo-2^64 BigInt path.
    if (!(v >= 0 && v < 2 ** 64) || this.page(addr, 8, true) !== PAGE_OK) return super.writeU64(addr, value);
    // Split by division, not `%` (a call to fmod in V8).
    const hi = Math.floor(v / 2 ** 32);
    putU32(this.bytes, this.at, v - hi * 2 ** 32);
    putU32(this.bytes, this.at + 4, hi);
  }

  override writeU64Big(addr: number, value: bigint): void {
    if (this.page(addr, 8, true) !== PAGE_OK) return super.writeU64Big(addr, value);
    const v = BigInt.asUintN(64, value);
    putU32(this.bytes, this.at, Number(v & 0xffffffffn));
    putU32(this.bytes, this.at + 4, Number(v >> 32n));
  }

  /**
   * The single page of an access, charged as {@link slow} would charge it: PAGE_OK leaves the frame in
   * `bytes`/`at`, PAGE_ZERO is a read of a frame never written, PAGE_SLOW sends the caller to {@link slow}
   * (nothing charged). A translation fault charges the walk and throws EFAULT.
   */
  private page(addr: number, length: number, write: boolean): number {
    if (this.regs.controlEpoch !== this.controlEpoch) this.sync();
    if (!this.pagingOn) {
      const phys = this.phys;
      const k = phys.page(addr, length, write);
      if (k === PAGE_SLOW) return k;
      this.payer.charge(length * this.copyCost);
      if (k === PAGE_OK) {
        this.bytes = phys.pageBytes!;
        this.at = addr & PAGE_MASK;
      }
      return k;
    }
    const mmu = this.mmuInstance;
    if (mmu === undefined) return PAGE_SLOW;
    let k: number;
    try {
      k = mmu.page(addr, length, write);
    } catch (error) {
      this.payer.charge(mmu.takeCycles() + length * this.copyCost);
      throw this.efault(error, write ? 'write' : 'read', length, addr);
    }
    if (k === PAGE_SLOW) return k;
    this.payer.charge(mmu.takeCycles() + length * this.copyCost);
    if (k === PAGE_OK) {
      this.bytes = mmu.pageBytes!;
      this.at = mmu.pageOffset;
    }
    return k;
  }

  /** Every other access: through the MMU when paging is on, else the P2M range check; faults become EFAULT. */
  private slow(addr: number, length: number, data: Uint8Array | null): Uint8Array {
    const what = data === null ? 'read' : 'write';
    if (!Number.isFinite(addr) || !Number.isInteger(length) || length < 0) {
      throw new GuestError('EFAULT', `vcpu${this.vcpu}: bad guest ${what} of ${length} bytes at ${addr}`, { domid: this.domid });
    }
    try {
      const mmu = this.paging();
      if (data === null) return mmu ? mmu.readVirt(addr, length) : this.phys.read(guestPhysAddr(addr), length);
      if (mmu) mmu.writeVirt(addr, data);
      else this.phys.write(guestPhysAddr(addr), data);
      return data;
    } catch (error) {
      throw this.efault(error, what, length, addr);
    } finally {
      this.payer.charge((this.mmuInstance?.takeCycles() ?? 0) + length * this.copyCost);
    }
  }

  /** A translation or P2M failure as the guest sees it (EFAULT); other errors pass through. */
  private efault(error: unknown, what: string, length: number, addr: number): unknown {
    if (error instanceof GuestError || !(error instanceof XenoError)) return error;
    return new GuestError('EFAULT', `vcpu${this.vcpu}: cannot ${what} ${length} bytes at 0x${addr.toString(16)}: ${error.detail}`, { domid: this.domid });
  }

  /** The MMU brought in step with the register file, or undefined while paging is off. */
  private paging(): Mmu | undefined {
    if (this.regs.controlEpoch !== this.controlEpoch) this.sync();
    return this.pagingOn ? this.mmuInstance : undefined;
  }

  /** Reads the control registers after a write to any of them: paging on or off, and the MMU brought in step. */
  private sync(): void {
    const regs = this.regs;
    this.controlEpoch = regs.controlEpoch;
    this.pagingOn = (regs.cr0 & X86_CR0_PG) !== 0;
    if (!this.pagingOn || this.mmuSource === undefined) return;
    const mmu = (this.mmuInstance ??= this.mmuSource.makeMmu(this.vcpu));
    if (mmu.cr0 !== regs.cr0) mmu.writeCr0(regs.cr0);
    if (mmu.cr4 !== regs.cr4) mmu.writeCr4(regs.cr4);
    if (mmu.efer !== regs.efer) mmu.writeEfer(regs.efer);
    if (mmu.cr3 !== regs.cr3) mmu.writeCr3(regs.cr3);
  }
}

const EMPTY = new Uint8Array(0);

function u32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

function putU32(b: Uint8Array, i: number, value: number): void {
  b[i] = value & 0xff;
  b[i + 1] = (value >>> 8) & 0xff;
  b[i + 2] = (value >>> 16) & 0xff;
  b[i + 3] = (value >>> 24) & 0xff;
}
