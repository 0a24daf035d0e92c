/**
 * Disks (FreeBSD's `struct disk` under GEOM): what a disk driver offers the rest of the kernel — blkfront's
 * `xbd0`, the ATA driver's `ada0` — so `dd`, `diskinfo` and `diskcheck` work the same over either.
 * Each operation blocks the calling thread on CPU `cpu` until the device answers.
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { Pcpu } from './pcpu.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** A request the device failed: `xbd0: write at sector 8 failed: BLKIF_RSP_ERROR`. */
export class DiskIoError extends Error {
  constructor(
    readonly disk: string,
    readonly op: 'read' | 'write' | 'flush',
    readonly lba: number,
    reason: string,
  ) {
    super(op === 'flush' ? `${disk}: flush failed: ${reason}` : `${disk}: ${op} at sector ${lba} failed: ${reason}`);
    this.name = 'DiskIoError';
  }
}

export interface DiskDev {
  /** `xbd0`, `ada0`. */
  readonly name: string;
  /** Bytes per sector (512). */
  readonly sectorSize: number;
  /** Size in sectors. */
  readonly sectors: number;
  readonly readOnly: boolean;
  /** What `diskinfo -v` prints as the driver's description. */
  readonly description: string;
  /** Reads `count` sectors from `lba`. Throws {@link DiskIoError} on failure. */
  read(cpu: Pcpu, lba: number, count: number): Gen<Uint8Array>;
  /** Writes whole sectors (`data.length` a multiple of `sectorSize`) at `lba`. */
  write(cpu: Pcpu, lba: number, data: Uint8Array): Gen;
  /** Returns once everything written before is on stable storage (a cache flush). */
  flush(cpu: Pcpu): Gen;
  /**
   * Optional: reads `sectors` at each of `lbas` as separate requests kept in flight together (a queue
   * depth above one), into `into` when given (exactly the bytes asked for: a caller reading in a loop
   * reuses one buffer), else into a fresh one.
   */
  readv?(cpu: Pcpu, lbas: readonly number[], sectors: number, into?: Uint8Array): Gen<Uint8Array>;
}
