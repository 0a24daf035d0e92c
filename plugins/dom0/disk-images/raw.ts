/** Raw images: the virtual disk is the file, byte for byte. */
import { SECTOR_SIZE } from '../../../core/api/index.js';
import { imageError, type ImageFile } from './file.js';
import { ImageBase, zeroBuffer } from './image.js';
import { QCOW2_MAGIC } from './qcow2-header.js';

const MAGIC_BYTES = 4;

/**
 * A raw image: every read or write is one `pread`/`pwrite` straight from or into the caller's buffer.
 * Opened read-write, the file must hold whole sectors; opened read-only, a partial last sector (a
 * qcow2 container read as raw, say) is rounded up and its tail reads as zeros, as QEMU does.
 * When the format was probed, writes that would give the image a qcow2 magic are refused (`EPERM`),
 * as QEMU refuses them: the next probe would take the guest's bytes for a header, backing file and all.
 */
export class RawImage extends ImageBase {
  readonly format = 'raw' as const;

  constructor(
    file: ImageFile,
    onClose?: () => void,
    private readonly probed = false,
  ) {
    if (file.size % SECTOR_SIZE !== 0 && !file.readOnly) {
      throw imageError(file.path, 'EINVAL', `raw image size ${file.size} is not a multiple of ${SECTOR_SIZE} bytes`);
    }
    super(file, Math.ceil(file.size / SECTOR_SIZE) * SECTOR_SIZE, onClose);
  }

  readAt(offset: number, into: Uint8Array, intoOffset: number, length: number): void {
    this.file.readZeroFill(into, intoOffset, length, offset);
  }

  protected writeAt(offset: number, data: Uint8Array, dataOffset: number, length: number): void {
    if (this.probed && offset < MAGIC_BYTES) this.refuseMagic(offset, data, dataOffset, length);
    this.file.writeAt(data, dataOffset, length, offset);
  }

  private refuseMagic(offset: number, data: Uint8Array, dataOffset: number, length: number): void {
    const head = new Uint8Array(MAGIC_BYTES);
    if (offset > 0 || length < MAGIC_BYTES) this.file.readZeroFill(head, 0, MAGIC_BYTES, 0);
    for (let i = offset; i < Math.min(MAGIC_BYTES, offset + length); i++) head[i] = data[dataOffset + i - offset]!;
    if (new DataView(head.buffer).getUint32(0) === QCOW2_MAGIC) {
      throw imageError(this.path, 'EPERM', 'refusing to write a qcow2 header into an image whose raw format was probed (open it with format "raw")');
    }
  }

  /** node:fs cannot punch holes, so the range is overwritten with zeros. */
  protected discardRange(offset: number, length: number): void {
    const chunk = Math.min(length, 1 << 20);
    const zeros = zeroBuffer(chunk);
    for (let done = 0; done < length; done += chunk) this.file.writeAt(zeros, 0, Math.min(chunk, length - done), offset + done);
  }
}
