/**
 * One guest's port and MMIO buses as its device model sees them: the ranges its devices claimed (each
 * mapped on the guest's ioreq server) and the dispatch of one access to the device that owns it.
 */
import { HardwareError, type IoHandler, type IoRegistrar, type IoRegistration, type IoreqServer, type MmioHandler } from '../../../core/api/index.js';

/** A claimed range on one bus. */
interface Claim extends IoRegistration {
  readonly handler: IoHandler | MmioHandler;
}

/** An access a device threw on: who, where, what. */
export interface DeviceFault {
  readonly owner: string;
  readonly space: 'pio' | 'mmio';
  readonly addr: number;
  readonly error: unknown;
}

const ALL_ONES = (size: number): number => (size >= 4 ? 0xffff_ffff : (1 << (size * 8)) - 1);
/** `value` cut to `size` bytes, unsigned. */
const truncate = (value: number, size: number): number => (size >= 4 ? value >>> 0 : value & ALL_ONES(size));

/**
 * The two buses of one guest. Accesses that fall in no claim read all ones and drop writes, as Xen's
 * null handler does; an access that straddles a claim's end is split into bytes. A handler that throws
 * is reported through `onFault` and the access reads all ones: the guest carries on.
 */
export class IoBus {
  private readonly claims: Record<'pio' | 'mmio', Claim[]> = { pio: [], mmio: [] };

  constructor(
    private readonly server: IoreqServer,
    private readonly domid: number,
    private readonly onFault: (fault: DeviceFault) => void,
  ) {}

  /** A registrar whose claims carry `owner` (a device's name), for that device's context. */
  registrar(owner: string): IoRegistrar {
    return {
      registerPorts: (base, count, handler) => this.claim('pio', base, count, handler, owner, 0x1_0000),
      registerMmio: (base, length, handler) => this.claim('mmio', base, length, handler, owner, 2 ** 52),
    };
  }

  /** Claims still active (debug dumps, tests). */
  active(space: 'pio' | 'mmio'): readonly IoRegistration[] {
    return this.claims[space];
  }

  /** Releases every claim (the device model stops). */
  dispose(): void {
    for (const space of ['pio', 'mmio'] as const) for (const c of [...this.claims[space]]) c.dispose();
  }

  /** A read of `size` bytes (1, 2, 4, or 8 for MMIO) at `addr`. */
  read(space: 'pio' | 'mmio', addr: number, size: number): number {
    if (size === 8 && space === 'mmio') return this.read64(addr);
    const claim = this.find(space, addr, size);
    if (claim === undefined) return size === 1 || this.find(space, addr, 1) === undefined ? ALL_ONES(size) : this.bytewiseRead(space, addr, size);
    try {
      return truncate(claim.handler.read(addr - claim.start, size as 1 | 2 | 4), size);
    } catch (error) {
      this.onFault({ owner: claim.owner, space, addr, error });
      return ALL_ONES(size);
    }
  }

  /** A write of `size` bytes at `addr`. */
  write(space: 'pio' | 'mmio', addr: number, size: number, value: number): void {
    if (size === 8 && space === 'mmio') return this.write64(addr, value);
    const claim = this.find(space, addr, size);
    if (claim === undefined) {
      if (size > 1) for (let i = 0; i < size; i++) this.writeByte(space, addr + i, Math.floor(value / 2 ** (8 * i)) & 0xff);
      return;
    }
    try {
      claim.handler.write(addr - claim.start, size as 1 | 2 | 4, truncate(value, size));
    } catch (error) {
      this.onFault({ owner: claim.owner, space, addr, error });
    }
  }

  private writeByte(space: 'pio' | 'mmio', addr: number, value: number): void {
    if (this.find(space, addr, 1) !== undefined) this.write(space, addr, 1, value);
  }

  private bytewiseRead(space: 'pio' | 'mmio', addr: number, size: number): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + this.read(space, addr + i, 1);
    return value >>> 0;
  }

  private read64(addr: number): number {
    const claim = this.find('mmio', addr, 8);
    if (claim !== undefined && 'read64' in claim.handler && claim.handler.read64 !== undefined) {
      try {
        return Number(BigInt.asUintN(64, claim.handler.read64(addr - claim.start)));
      } catch (error) {
        this.onFault({ owner: claim.owner, space: 'mmio', addr, error });
        return 2 ** 64 - 1;
      }
    }
    return this.read('mmio', addr, 4) + this.read('mmio', addr + 4, 4) * 2 ** 32;
  }

  private write64(addr: number, value: number): void {
    const claim = this.find('mmio', addr, 8);
    if (claim !== undefined && 'write64' in claim.handler && claim.handler.write64 !== undefined) {
      try {
        claim.handler.write64(addr - claim.start, BigInt.asUintN(64, BigInt(Math.trunc(value))));
      } catch (error) {
        this.onFault({ owner: claim.owner, space: 'mmio', addr, error });
      }
      return;
    }
    this.write('mmio', addr, 4, value % 2 ** 32);
    this.write('mmio', addr + 4, 4, Math.floor(value / 2 ** 32) % 2 ** 32);
  }

  /** The claim holding all of `addr .. addr+size-1`. */
  private find(space: 'pio' | 'mmio', addr: number, size: number): Claim | undefined {
    for (const c of this.claims[space]) if (addr >= c.start && addr + size <= c.start + c.length) return c;
    return undefined;
  }

  private claim(space: 'pio' | 'mmio', start: number, length: number, handler: IoHandler, owner: string, limit: number): IoRegistration {
    const what = space === 'pio' ? 'ports' : 'MMIO';
    const hex = (n: number): string => `0x${n.toString(16)}`;
    if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 1 || start + length > limit) {
      throw new HardwareError('EINVAL', `dom${this.domid}: ${owner} claims bad ${what} range ${hex(start)} (+${length})`);
    }
    const clash = this.claims[space].find((c) => start < c.start + c.length && c.start < start + length);
    if (clash !== undefined) {
      throw new HardwareError('EEXIST', `dom${this.domid}: ${owner} claims ${what} ${hex(start)}-${hex(start + length - 1)}, which overlap ${clash.owner}'s ${hex(clash.start)}-${hex(clash.start + clash.length - 1)}`);
    }
    this.server.mapRange(space, start, start + length - 1);
    const list = this.claims[space];
    const server = this.server;
    const claim: Claim & { active: boolean } = {
      start,
      length,
      owner,
      handler,
      active: true,
      dispose() {
        if (!claim.active) return;
        claim.active = false;
        list.splice(list.indexOf(claim), 1);
        try {
          server.unmapRange(space, start, start + length - 1);
        } catch {
          // The server is gone (the guest died): its ranges went with it.
        }
      },
    };
    list.push(claim);
    return claim;
  }
}
