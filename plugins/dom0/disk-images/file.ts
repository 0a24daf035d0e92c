/** An image file opened for synchronous positioned I/O, whose every failure is a `GuestError` naming the file. */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { GuestError } from '../../../core/api/index.js';
import type { XenErrnoName } from '../../../core/public/index.js';

/** A `GuestError` whose message starts `disk image <path>: `. */
export function imageError(path: string, errno: XenErrnoName, detail: string): GuestError {
  return new GuestError(errno, `disk image ${path}: ${detail}`);
}

/** The errno a guest sees for a failed host system call. */
function errnoOf(cause: unknown): XenErrnoName {
  const code = (cause as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'ENOENT';
    case 'EACCES':
    case 'EPERM':
      return 'EACCES';
    case 'EROFS':
      return 'EROFS';
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return 'ENOSPC';
    case 'EISDIR':
      return 'EINVAL';
    default:
      return 'EIO';
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * One open file. `size` follows the writes made through this object. Reads and writes of a whole
 * request are one `pread`/`pwrite` unless the kernel returns short.
 */
export class ImageFile {
  /** Bytes in the file (as far as this process has written it). */
  size: number;
  /** `device:inode`: the same file under any name. */
  readonly identity: string;
  private fd: number;

  /** Opens a regular file, `O_RDONLY` or `O_RDWR`. */
  constructor(
    readonly path: string,
    readonly readOnly: boolean,
  ) {
    let fd: number;
    try {
      fd = openSync(path, readOnly ? 'r' : 'r+');
    } catch (cause) {
      throw imageError(path, errnoOf(cause), `cannot open: ${describe(cause)}`);
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw imageError(path, 'EINVAL', 'not a regular file');
      this.size = stat.size;
      this.identity = `${stat.dev}:${stat.ino}`;
    } catch (cause) {
      closeSync(fd);
      throw cause instanceof GuestError ? cause : imageError(path, errnoOf(cause), describe(cause));
    }
    this.fd = fd;
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** One `pread`: returns the bytes read (fewer at the end of the file). */
  readAt(into: Uint8Array, intoOffset: number, length: number, position: number): number {
    try {
      return readSync(this.fd, into, intoOffset, length, position);
    } catch (cause) {
      throw imageError(this.path, errnoOf(cause) === 'ENOSPC' ? 'EIO' : errnoOf(cause), `read of ${length} bytes at ${position} failed: ${describe(cause)}`);
    }
  }

  /** Reads `length` bytes; what lies past the end of the file reads as zeros (as a sparse tail would). */
  readZeroFill(into: Uint8Array, intoOffset: number, length: number, position: number): void {
    let done = 0;
    while (done < length) {
      const got = this.readAt(into, intoOffset + done, length - done, position + done);
      if (got === 0) {
        into.fill(0, intoOffset + done, intoOffset + length);
        return;
      }
      done += got;
    }
  }

  /** Reads exactly `length` bytes of metadata; a short file is `EIO` naming `what`. */
  readFully(into: Uint8Array, intoOffset: number, length: number, position: number, what: string): void {
    let done = 0;
    while (done < length) {
      const got = this.readAt(into, intoOffset + done, length - done, position + done);
      if (got === 0) throw imageError(this.path, 'EIO', `${what} at offset ${position} lies past the end of the file (${this.size} bytes)`);
      done += got;
    }
  }

  /** `pwrite`s all of `data[dataOffset, +length)` at `position`. */
  writeAt(data: Uint8Array, dataOffset: number, length: number, position: number): void {
    let done = 0;
    try {
      while (done < length) done += writeSync(this.fd, data, dataOffset + done, length - done, position + done);
    } catch (cause) {
      throw imageError(this.path, errnoOf(cause), `write of ${length} bytes at ${position} failed: ${describe(cause)}`);
    }
    if (position + length > this.size) this.size = position + length;
  }

  /** `fsync`: data and metadata on stable storage. */
  sync(): void {
    try {
      fsyncSync(this.fd);
    } catch (cause) {
      throw imageError(this.path, errnoOf(cause) === 'ENOSPC' ? 'ENOSPC' : 'EIO', `fsync failed: ${describe(cause)}`);
    }
  }

  /** Closes the descriptor (idempotent). */
  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    closeSync(fd);
  }
}
