/** Opening disk images: the format probed or given, qcow2 backing chains followed, open images counted. */
import { dirname, isAbsolute, resolve } from 'node:path';
import { GuestError, type DiskImage, type DiskImages, type DiskOpenOptions, type ImageFormat } from '../../../core/api/index.js';
import type { XenErrnoName } from '../../../core/public/index.js';
import { ImageFile, imageError } from './file.js';
import type { ImageBase } from './image.js';
import { DEFAULT_QCOW2_OPTIONS, Qcow2Image, type Qcow2Options } from './qcow2.js';
import { QCOW2_MAGIC, readQcow2Header, type Qcow2Header } from './qcow2-header.js';
import { RawImage } from './raw.js';

/** Longest backing chain we follow (a loop in a chain ends here too). */
export const MAX_BACKING_CHAIN = 16;
const FORMATS: readonly string[] = ['auto', 'raw', 'qcow2'];

/** `qcow2` when the file starts with the qcow2 magic, else `raw`. */
export function probeFormat(file: ImageFile): ImageFormat {
  const magic = new Uint8Array(4);
  const got = file.readAt(magic, 0, 4, 0);
  return got === 4 && new DataView(magic.buffer).getUint32(0) === QCOW2_MAGIC ? 'qcow2' : 'raw';
}

/**
 * Wraps an open file as an image of `format` (probed for `auto`). Takes ownership of `file`: on
 * failure it is closed. `depth` is this file's place in a backing chain (0 for the image opened).
 */
export function openImageFile(file: ImageFile, format: ImageFormat | 'auto', options: Qcow2Options, onClose?: () => void, depth = 0): ImageBase {
  let backing: ImageBase | undefined;
  try {
    const kind = format === 'auto' ? probeFormat(file) : format;
    if (kind === 'raw') return new RawImage(file, onClose, format === 'auto');
    const header = readQcow2Header(file);
    if (header.backingFile !== undefined) backing = openBacking(file.path, header, header.backingFile, options, depth);
    return new Qcow2Image(file, header, backing, options, onClose);
  } catch (cause) {
    backing?.close();
    file.close();
    throw cause;
  }
}

/** Opens the backing file of `path` read-only: relative names are relative to `path`'s folder, as QEMU resolves them. */
function openBacking(path: string, header: Qcow2Header, name: string, options: Qcow2Options, depth: number): ImageBase {
  if (depth + 1 >= MAX_BACKING_CHAIN) throw imageError(path, 'EINVAL', `backing chain is longer than ${MAX_BACKING_CHAIN} images (a loop?)`);
  if (name.startsWith('json:')) throw imageError(path, 'EINVAL', `backing file "${name}" uses a QEMU protocol we do not support`);
  const format = header.backingFormat ?? 'auto';
  if (format !== 'auto' && format !== 'raw' && format !== 'qcow2') throw imageError(path, 'EINVAL', `backing file "${name}" has unsupported format "${format}"`);
  const backingPath = isAbsolute(name) ? name : resolve(dirname(path), name);
  try {
    return openImageFile(new ImageFile(backingPath, true), format, options, undefined, depth + 1);
  } catch (cause) {
    if (!(cause instanceof GuestError)) throw cause;
    throw imageError(path, cause.code as XenErrnoName, `in its backing chain: ${cause.detail}`);
  }
}

/**
 * The {@link DiskImages} service: opens images and knows how many are open. Like QEMU's image
 * locking, it lets a file be written through one image only, and not while any image reads it
 * (as a disk or as a backing file): two writers of one qcow2 file would corrupt its metadata.
 */
export class ImageStore implements DiskImages {
  private readonly images = new Set<DiskImage>();
  /** Open files by identity: how many images read each, and whether one writes it. */
  private readonly users = new Map<string, { readers: number; writer: boolean }>();

  constructor(private readonly options: Qcow2Options = DEFAULT_QCOW2_OPTIONS) {}

  get openCount(): number {
    return this.images.size;
  }

  open(path: string, options: DiskOpenOptions = {}): DiskImage {
    const absolute = resolve(path);
    const format = options.format ?? 'auto';
    if (!FORMATS.includes(format)) throw imageError(absolute, 'EINVAL', `unknown image format "${String(format)}" (raw, qcow2 or auto)`);
    const writable = !(options.readOnly ?? false);
    const file = new ImageFile(absolute, !writable);
    let registered = false;
    const image: ImageBase = openImageFile(file, format, this.options, () => {
      if (!registered) return;
      this.images.delete(image);
      this.release(files, writable);
    });
    const files = image.files();
    const busy = files.some((id, i) => this.users.get(id)?.writer === true || (i === 0 && writable && this.users.has(id)));
    if (busy) {
      image.close();
      throw imageError(absolute, 'EBUSY', writable ? 'is already open (a disk, or the backing file of one)' : 'is open for writing, or backed by a file that is');
    }
    files.forEach((id, i) => {
      const user = this.users.get(id) ?? { readers: 0, writer: false };
      if (i === 0 && writable) user.writer = true;
      else user.readers++;
      this.users.set(id, user);
    });
    registered = true;
    this.images.add(image);
    return image;
  }

  /** Closes every image still open (the plugin's dispose). */
  closeAll(): void {
    for (const image of [...this.images]) image.close();
  }

  private release(files: readonly string[], writable: boolean): void {
    files.forEach((id, i) => {
      const user = this.users.get(id);
      if (user === undefined) return;
      if (i === 0 && writable) user.writer = false;
      else user.readers--;
      if (!user.writer && user.readers === 0) this.users.delete(id);
    });
  }
}
