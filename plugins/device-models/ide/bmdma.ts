/**
 * One channel's bus-master IDE registers (PIIX's BMICOM, BMISTA, BMIDTP in BAR4) and the walk of its
 * physical region descriptor table in guest memory (the SFF-8038i scatter/gather list).
 */
import type { GuestAccess } from '../../../core/api/index.js';
import { BM_CMD, BM_REG, BM_S, PRD_ENTRY, PRD_EOT, PRD_MAX_ENTRIES } from './ata.js';

/** One guest-memory piece of a transfer. */
export interface PrdPiece {
  readonly addr: number;
  readonly length: number;
}

/** A PRD table the controller cannot use (unreadable, too short, too long). */
export class PrdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrdError';
  }
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** A channel's bus master. The channel learns of the start bit's edges through `onStart` / `onStop`. */
export class BusMaster {
  private command = 0;
  private statusBits = 0;
  private prd = 0;

  constructor(
    private readonly onStart: () => void,
    private readonly onStop: () => void,
  ) {}

  /** START is set: the controller may move data. */
  get active(): boolean {
    return (this.statusBits & BM_S.ACTIVE) !== 0;
  }

  /** The direction the guest programmed: true when the controller writes memory (a disk read). */
  get writesMemory(): boolean {
    return (this.command & BM_CMD.WRITE_MEMORY) !== 0;
  }

  get prdAddress(): number {
    return this.prd;
  }

  get status(): number {
    return this.statusBits;
  }

  /** Sets or clears the "drive n is DMA capable" bits (firmware-owned; kept in step with the drives present). */
  setDmaCapable(unit: number, capable: boolean): void {
    const bit = unit === 0 ? BM_S.DMA0 : BM_S.DMA1;
    this.statusBits = capable ? this.statusBits | bit : this.statusBits & ~bit;
  }

  /** The channel raised its interrupt. */
  interrupt(): void {
    this.statusBits |= BM_S.INTR;
  }

  /** A transfer ended: ACTIVE clears, ERROR when memory could not be reached. */
  finish(error: boolean): void {
    this.statusBits &= ~BM_S.ACTIVE;
    if (error) this.statusBits |= BM_S.ERROR;
  }

  read(offset: number, size: number): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + this.readByte(offset + i);
    return value >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) this.writeByte(offset + i, Math.floor(value / 2 ** (8 * i)) & 0xff);
  }

  private readByte(offset: number): number {
    if (offset === BM_REG.command) return this.command;
    if (offset === BM_REG.status) return this.statusBits;
    if (offset >= BM_REG.prdAddress && offset < BM_REG.prdAddress + 4) return (this.prd >>> (8 * (offset - BM_REG.prdAddress))) & 0xff;
    return 0;
  }

  private writeByte(offset: number, value: number): void {
    if (offset === BM_REG.command) {
      const was = this.command;
      this.command = value & (BM_CMD.START | BM_CMD.WRITE_MEMORY);
      if (value & BM_CMD.START && !(was & BM_CMD.START)) {
        this.statusBits |= BM_S.ACTIVE;
        this.onStart();
      } else if (!(value & BM_CMD.START) && was & BM_CMD.START) {
        const running = this.active;
        this.statusBits &= ~BM_S.ACTIVE;
        if (running) this.onStop();
      }
    } else if (offset === BM_REG.status) {
      // ERROR and INTR are write-one-to-clear; the DMA-capable bits are plain.
      this.statusBits = (this.statusBits & ~(value & (BM_S.ERROR | BM_S.INTR)) & ~(BM_S.DMA0 | BM_S.DMA1)) | (value & (BM_S.DMA0 | BM_S.DMA1));
    } else if (offset >= BM_REG.prdAddress && offset < BM_REG.prdAddress + 4) {
      const shift = 8 * (offset - BM_REG.prdAddress);
      this.prd = ((this.prd & ~(0xff << shift)) | (value << shift)) & 0xffff_fffc;
      this.prd >>>= 0;
    }
  }

  /**
   * The table's pieces covering `needed` bytes (the last one cut short). A byte count of 0 means 64 KiB;
   * bit 0 of addresses and counts is ignored. Throws {@link PrdError} when an entry cannot be read, the
   * table ends before `needed` bytes or runs past a page of entries.
   */
  walk(memory: GuestAccess, needed: number): PrdPiece[] {
    const pieces: PrdPiece[] = [];
    let total = 0;
    for (let i = 0; i < PRD_MAX_ENTRIES && total < needed; i++) {
      const at = this.prd + i * PRD_ENTRY;
      let addr: number;
      let count: number;
      let flags: number;
      try {
        addr = memory.readU32(at) & 0xffff_fffe;
        count = memory.readU16(at + 4) & 0xfffe;
        flags = memory.readU16(at + 6);
      } catch (error) {
        throw new PrdError(`PRD entry ${i} at ${hex(at)} is not in guest memory (${error instanceof Error ? error.message : String(error)})`);
      }
      const length = Math.min(count === 0 ? 0x1_0000 : count, needed - total);
      pieces.push({ addr: addr >>> 0, length });
      total += length;
      if (flags & PRD_EOT) break;
    }
    if (total < needed) throw new PrdError(`PRD table at ${hex(this.prd)} describes ${total} bytes, the command moves ${needed}`);
    return pieces;
  }
}
