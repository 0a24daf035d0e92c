/** What every image format shares: the checks of the `DiskImage` contract (closed, read-only, range) in front of the format's own I/O. */
import type { DiskImage, ImageFormat } from '../../../core/api/index.js';
import { imageError, type ImageFile } from './file.js';

/** Reads of a virtual disk into part of a buffer: what a qcow2 image needs of its backing file. */
export interface ImageReader {
  readonly size: number;
  /** Reads `length` bytes at `offset` into `into[intoOffset, +length)`; the range is within the disk. */
  readAt(offset: number, into: Uint8Array, intoOffset: number, length: number): void;
  /** The identities ({@link ImageFile.identity}) of this image's file and of its backing chain, top first. */
  files(): string[];
  close(): void;
}

let zeros: Uint8Array | undefined;
/** A shared buffer of at least `length` zero bytes (1 MiB, or grown to one cluster): a write source, never written into. */
export function zeroBuffer(length: number): Uint8Array {
  if (zeros === undefined || zeros.length < length) zeros = new Uint8Array(Math.max(length, 1 << 20));
  return zeros;
}

/** An open image: the contract's checks, then the format's `readAt`/`writeAt`/`discardRange`. */
export abstract class ImageBase implements DiskImage, ImageReader {
  abstract readonly format: ImageFormat;

  constructor(
    protected readonly file: ImageFile,
    readonly size: number,
    private readonly onClose?: () => void,
  ) {}

  get path(): string {
    return this.file.path;
  }

  get readOnly(): boolean {
    return this.file.readOnly;
  }

  read(offset: number, into: Uint8Array): void {
    this.check(offset, into.length, false);
    if (into.length > 0) this.readAt(offset, into, 0, into.length);
  }

  write(offset: number, data: Uint8Array): void {
    this.check(offset, data.length, true);
    if (data.length > 0) this.writeAt(offset, data, 0, data.length);
  }

  discard(offset: number, length: number): void {
    this.check(offset, length, true);
    if (length > 0) this.discardRange(offset, length);
  }

  flush(): void {
    if (this.file.closed) throw this.closedError();
    this.file.sync();
  }

  close(): void {
    if (this.file.closed) return;
    this.closeFiles();
    this.onClose?.();
  }

  files(): string[] {
    return [this.file.identity];
  }

  abstract readAt(offset: number, into: Uint8Array, intoOffset: number, length: number): void;
  protected abstract writeAt(offset: number, data: Uint8Array, dataOffset: number, length: number): void;
  protected abstract discardRange(offset: number, length: number): void;

  protected closeFiles(): void {
    this.file.close();
  }

  private check(offset: number, length: number, writing: boolean): void {
    if (this.file.closed) throw this.closedError();
    if (writing && this.file.readOnly) throw imageError(this.path, 'EROFS', 'opened read-only');
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || length > this.size - offset) {
      throw imageError(this.path, 'EINVAL', `range of ${length} bytes at ${offset} is not within the disk (${this.size} bytes)`);
    }
  }

  private closedError() {
    return imageError(this.path, 'EBADF', 'image is closed');
  }
}
