/**
 * Virtual disks' backing stores: what QEMU's block layer is to a real Dom0. The `disk-images` Dom0
 * plugin provides {@link DiskImages}; blkback and the emulated disk controllers open images through
 * it. I/O is synchronous (a Dom0 task charges the virtual time it costs), so runs stay deterministic.
 */
import { token } from './tokens.js';

/** The image formats xl.cfg's `format=` names that we serve. */
export type ImageFormat = 'raw' | 'qcow2';

/** Bytes per sector on every interface we speak (blkif's and ATA's units). */
export const SECTOR_SIZE = 512;

/** One open image. Offsets and lengths are bytes of the virtual disk. */
export interface DiskImage {
  /** The file, as opened (absolute). */
  readonly path: string;
  readonly format: ImageFormat;
  /** Virtual size in bytes (a multiple of {@link SECTOR_SIZE}). */
  readonly size: number;
  readonly readOnly: boolean;
  /**
   * Reads `into.length` bytes at `offset` (unallocated qcow2 clusters read as zeros). `GuestError('EINVAL')`
   * when the range is not within the disk; `GuestError('EIO')` when the file cannot be read or its
   * metadata is corrupt.
   */
  read(offset: number, into: Uint8Array): void;
  /** Writes `data` at `offset` (qcow2 allocates clusters as needed). `EROFS` on a read-only image; `EINVAL`, `EIO`, `ENOSPC` as for `read`. */
  write(offset: number, data: Uint8Array): void;
  /** Lets go of a range (qcow2: clusters freed or zeroed; raw: the range reads as zeros after). Optional. */
  discard?(offset: number, length: number): void;
  /** Makes every completed write durable: data and metadata reach the disk (fsync) before it returns. */
  flush(): void;
  /** Closes the file (idempotent); further calls throw `EBADF`. */
  close(): void;
}

export interface DiskOpenOptions {
  /** The format; `auto` (default) probes for the qcow2 magic. */
  readonly format?: ImageFormat | 'auto';
  readonly readOnly?: boolean;
}

/** Opens images. Errors are `GuestError`s (ENOENT, EACCES, EINVAL for a bad image) whose message names the file. */
export interface DiskImages {
  open(path: string, options?: DiskOpenOptions): DiskImage;
  /** Images open now (leak checks). */
  readonly openCount: number;
}
export const DiskImages = token<DiskImages>('DiskImages');
