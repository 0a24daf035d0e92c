/** A GuestAccess over a flat byte array: guest address = index. For hypercall handler tests. */
import { GuestError } from '../api/errors.js';
import { GuestAccessBase } from '../memory/guest-access.js';

export class ByteArrayGuestAccess extends GuestAccessBase {
  readonly bytes: Uint8Array;

  constructor(
    size: number,
    private readonly domid = 1,
  ) {
    super();
    this.bytes = new Uint8Array(size);
  }

  read(addr: number, length: number): Uint8Array {
    this.check(addr, length, 'read');
    return this.bytes.slice(addr, addr + length);
  }

  write(addr: number, data: Uint8Array): void {
    this.check(addr, data.length, 'write');
    this.bytes.set(data, addr);
  }

  private check(addr: number, length: number, what: string): void {
    if (!(Number.isInteger(addr) && addr >= 0 && Number.isInteger(length) && length >= 0 && addr + length <= this.bytes.length)) {
      throw new GuestError('EFAULT', `${what} of ${length} bytes at 0x${addr.toString(16)} is outside guest memory`, { domid: this.domid });
    }
  }
}
