/**
 * In-memory disk images for the emulated IDE's tests, standing in for the disk-images plugin behind the
 * DiskImages contract: the bytes, the flushes, and the calls that fail as a file would.
 */
import { GuestError, SECTOR_SIZE, type DiskImage, type DiskImages, type DiskOpenOptions } from '../../../../core/api/index.js';

export class MemImage implements DiskImage {
  readonly format = 'raw' as const;
  readonly bytes: Uint8Array;
  flushes = 0;
  writes = 0;
  closed = false;
  /** Set to make the next reads fail with EIO (a bad sector on the host's disk). */
  failReads = false;

  constructor(
    readonly path: string,
    sectors: number,
    readonly readOnly = false,
  ) {
    this.bytes = new Uint8Array(sectors * SECTOR_SIZE);
    // A recognisable pattern: byte i of sector s is (s * 7 + i) & 0xff.
    for (let i = 0; i < this.bytes.length; i++) this.bytes[i] = (Math.floor(i / SECTOR_SIZE) * 7 + (i % SECTOR_SIZE)) & 0xff;
  }

  get size(): number {
    return this.bytes.length;
  }

  private check(offset: number, length: number): void {
    if (this.closed) throw new GuestError('EBADF', `${this.path}: closed`);
    if (offset < 0 || offset + length > this.bytes.length) throw new GuestError('EINVAL', `${this.path}: ${length} bytes at ${offset} are past the end (${this.bytes.length})`);
  }

  read(offset: number, into: Uint8Array): void {
    this.check(offset, into.length);
    if (this.failReads) throw new GuestError('EIO', `${this.path}: read error at ${offset}`);
    into.set(this.bytes.subarray(offset, offset + into.length));
  }

  write(offset: number, data: Uint8Array): void {
    this.check(offset, data.length);
    if (this.readOnly) throw new GuestError('EROFS', `${this.path}: read-only`);
    this.bytes.set(data, offset);
    this.writes++;
  }

  flush(): void {
    if (this.closed) throw new GuestError('EBADF', `${this.path}: closed`);
    this.flushes++;
  }

  close(): void {
    this.closed = true;
  }
}

/** A DiskImages provider over {@link MemImage}s made on first open (`sectors` each, or as `sizes` says). */
export class FakeImages implements DiskImages {
  readonly images = new Map<string, MemImage>();
  readonly opened: { path: string; options: DiskOpenOptions | undefined }[] = [];

  constructor(private readonly sizes: Record<string, number> = {}) {}

  open(path: string, options?: DiskOpenOptions): DiskImage {
    this.opened.push({ path, options });
    if (path.includes('missing')) throw new GuestError('ENOENT', `${path}: no such file`);
    const image = new MemImage(path, this.sizes[path] ?? 2048, options?.readOnly === true);
    this.images.set(path, image);
    return image;
  }

  get openCount(): number {
    return [...this.images.values()].filter((i) => !i.closed).length;
  }

  image(path: string): MemImage {
    const i = this.images.get(path);
    if (i === undefined) throw new Error(`${path} was never opened`);
    return i;
  }
}
