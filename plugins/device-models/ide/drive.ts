/** One emulated ATA hard disk on an IDE bus: its image, its IDENTIFY data, and sector I/O that fails as a drive does. */
import { GuestError, type DiskImage } from '../../../core/api/index.js';
import { ATA_E, SECTOR } from './ata.js';
import { identifyData } from './identify.js';

/** A failed command: the error register's bits and what happened, for the log. */
export class AtaError extends Error {
  constructor(
    readonly bits: number,
    message: string,
  ) {
    super(message);
    this.name = 'AtaError';
  }
}

/** The model string QEMU's IDE disks report (FreeBSD prints `<QEMU HARDDISK 2.5+>`). */
export const IDE_MODEL = 'QEMU HARDDISK';
export const IDE_FIRMWARE = '2.5+';

/** An ATA error for an image failure: EINVAL (out of range) is IDNF, EIO an uncorrectable error, the rest ABRT. */
function ataErrorOf(error: unknown, what: string): AtaError {
  const code = error instanceof GuestError ? error.code : undefined;
  const text = error instanceof Error ? error.message : String(error);
  const bits = code === 'EINVAL' ? ATA_E.IDNF | ATA_E.ABRT : code === 'EIO' ? ATA_E.UNC | ATA_E.ABRT : ATA_E.ABRT;
  return new AtaError(bits, `${what}: ${text}`);
}

/** A disk on a channel: sector I/O on its image that fails with ATA error bits. */
export class IdeDrive {
  readonly sectors: number;
  /** SET FEATURES 0x02 / 0x82: with the write cache off every write is flushed before it completes. */
  writeCache = true;
  private closed = false;

  constructor(
    /** 0-3: primary master, primary slave, secondary master, secondary slave. */
    readonly index: number,
    readonly vdev: string,
    private readonly image: DiskImage,
  ) {
    this.sectors = Math.floor(image.size / SECTOR);
  }

  get readOnly(): boolean {
    return this.image.readOnly;
  }

  get path(): string {
    return this.image.path;
  }

  /** IDENTIFY DEVICE's 512 bytes (serial QM0000n as QEMU numbers its drives). */
  identify(): Uint8Array {
    return identifyData({ sectors: this.sectors, serial: `QM0000${this.index + 1}`, firmware: IDE_FIRMWARE, model: IDE_MODEL, writeCache: this.writeCache });
  }

  /** Throws IDNF unless sectors `lba .. lba+count-1` are on the disk. */
  checkRange(lba: number, count: number): void {
    if (!(lba >= 0 && count > 0 && lba + count <= this.sectors)) throw new AtaError(ATA_E.IDNF | ATA_E.ABRT, `sectors ${lba}+${count} are past the end of ${this.vdev} (${this.sectors} sectors)`);
  }

  /** Reads `length` bytes at byte `offset` of the disk. */
  read(offset: number, length: number): Uint8Array {
    const into = new Uint8Array(length);
    try {
      this.image.read(offset, into);
    } catch (error) {
      throw ataErrorOf(error, `read of ${length} bytes at ${offset} of ${this.vdev}`);
    }
    return into;
  }

  /** Writes `data` at byte `offset`; a read-only disk aborts the command. */
  write(offset: number, data: Uint8Array): void {
    if (this.image.readOnly) throw new AtaError(ATA_E.ABRT, `${this.vdev} is read-only (access=ro): write at byte ${offset} refused`);
    try {
      this.image.write(offset, data);
      if (!this.writeCache) this.image.flush();
    } catch (error) {
      throw ataErrorOf(error, `write of ${data.length} bytes at ${offset} of ${this.vdev}`);
    }
  }

  /** FLUSH CACHE: everything written so far reaches stable storage. */
  flush(): void {
    try {
      this.image.flush();
    } catch (error) {
      throw ataErrorOf(error, `flush of ${this.vdev}`);
    }
  }

  /** Flushes and closes the image (the drive leaves the bus). Idempotent; returns an error message instead of throwing. */
  detach(): string | undefined {
    if (this.closed) return undefined;
    this.closed = true;
    const problems: string[] = [];
    for (const step of [() => !this.image.readOnly && this.image.flush(), () => this.image.close()]) {
      try {
        step();
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
    }
    return problems.length > 0 ? `${this.vdev} (${this.image.path}): ${problems.join('; ')}` : undefined;
  }
}
