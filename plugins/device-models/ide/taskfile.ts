/** An IDE channel's task file: the command block registers both drives latch, each with its 48-bit "previous" byte. */
import { ATA_CTL, ATA_D, ATA_E, ATA_REG } from './ata.js';
import { AtaError } from './drive.js';
import { chsGeometry } from './identify.js';

/** A register and the value written before (read back with HOB set: the high half of a 48-bit command). */
interface Fifo {
  cur: number;
  prev: number;
}

/** The registers, the HOB bit and the address a command's registers give. */
export class TaskFile {
  readonly feature: Fifo = { cur: 0, prev: 0 };
  private readonly count: Fifo = { cur: 0, prev: 0 };
  private readonly lbaLow: Fifo = { cur: 0, prev: 0 };
  private readonly lbaMid: Fifo = { cur: 0, prev: 0 };
  private readonly lbaHigh: Fifo = { cur: 0, prev: 0 };
  /** The device register as read (the obsolete bits set). */
  select: number = ATA_D.OBSOLETE;
  /** The device control register. */
  control = 0;

  /** The drive the device register selects: 0 master, 1 slave. */
  get unit(): number {
    return this.select & ATA_D.DEV ? 1 : 0;
  }

  /** Sector count, LBA low/mid/high or device register (offsets 2-6); the previous byte while HOB is set. */
  read(offset: number): number {
    if (offset === ATA_REG.device) return this.select;
    const f = this.fifo(offset);
    return this.control & ATA_CTL.HOB ? f.prev : f.cur;
  }

  /** A write to features, count, LBA or device (offsets 1-6). Any such write clears HOB. */
  write(offset: number, value: number): void {
    this.control &= ~ATA_CTL.HOB;
    if (offset === ATA_REG.device) {
      this.select = value | ATA_D.OBSOLETE;
      return;
    }
    const f = this.fifo(offset);
    f.prev = f.cur;
    f.cur = value;
  }

  /** The ATA signature a reset leaves: count 1, LBA 1:0:0, drive 0 selected. */
  signature(): void {
    this.count.cur = this.lbaLow.cur = 1;
    this.lbaMid.cur = this.lbaHigh.cur = 0;
    this.select = ATA_D.OBSOLETE;
  }

  /** The first sector and sector count of a 28-bit or 48-bit command (CHS when the LBA bit is clear), for a disk of `sectors`. */
  address(ext: boolean, sectors: number): { lba: number; count: number } {
    const { count, lbaLow, lbaMid, lbaHigh } = this;
    if (ext) {
      const lba = lbaLow.cur + lbaMid.cur * 2 ** 8 + lbaHigh.cur * 2 ** 16 + lbaLow.prev * 2 ** 24 + lbaMid.prev * 2 ** 32 + lbaHigh.prev * 2 ** 40;
      return { lba, count: count.prev * 256 + count.cur || 0x1_0000 };
    }
    const n = count.cur || 256;
    const head = this.select & 0xf;
    if (this.select & ATA_D.LBA) return { lba: lbaLow.cur + lbaMid.cur * 2 ** 8 + lbaHigh.cur * 2 ** 16 + head * 2 ** 24, count: n };
    const { heads, sectorsPerTrack } = chsGeometry(sectors);
    if (lbaLow.cur === 0) throw new AtaError(ATA_E.IDNF | ATA_E.ABRT, 'CHS address with sector 0');
    return { lba: ((lbaMid.cur + lbaHigh.cur * 256) * heads + head) * sectorsPerTrack + lbaLow.cur - 1, count: n };
  }

  private fifo(offset: number): Fifo {
    switch (offset) {
      case ATA_REG.error:
        return this.feature;
      case ATA_REG.count:
        return this.count;
      case ATA_REG.lbaLow:
        return this.lbaLow;
      case ATA_REG.lbaMid:
        return this.lbaMid;
      default:
        return this.lbaHigh;
    }
  }
}
