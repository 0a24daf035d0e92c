/**
 * Ioreq servers (Xen's arch/x86/hvm/ioreq.c and common/ioreq.c): a device model's window onto its
 * guest's exits. A forwarded access is written as an `ioreq_t` into the vCPU's slot of the server's
 * shared page, the server is told from an engine event, and the vCPU waits until `complete`.
 */
import { GuestError } from '../api/errors.js';
import type { IoreqServer } from '../api/hvm.js';
import type { MsiMessage } from '../api/interrupts.js';
import type { GuestAccess, GuestMemory } from '../api/memory.js';
import type { Logger } from '../api/log.js';
import type { Engine } from '../engine/engine.js';
import { GuestAccessBase } from '../memory/guest-access.js';
import { IOREQ_FLAG_DIR_READ, IOREQ_FLAG_STATE_MASK, IOREQ_SIZE, IOREQ_STATE, IOREQ_TYPE, Ioreq } from '../public/ioreq.js';
import { guestPhysAddr } from '../public/types.js';
import { allOnes } from '../cpu/vcpu-api.js';
import type { HvmDomainPlatform, HvmVcpuState } from './domain-platform.js';

/** The shared_iopage_t: one page. */
export const IOREQ_PAGE_SIZE = 4096;

/** An inclusive range of ports or guest-physical bytes. */
interface IoRange {
  start: number;
  end: number;
}

/** The device model's foreign mapping of its guest: guest-physical addresses, not charged to any vCPU. */
class ForeignGuestAccess extends GuestAccessBase {
  constructor(private readonly phys: GuestMemory) {
    super();
  }
  read(addr: number, length: number): Uint8Array {
    return this.phys.read(guestPhysAddr(addr), length);
  }
  write(addr: number, data: Uint8Array): void {
    this.phys.write(guestPhysAddr(addr), data);
  }
}

export class IoreqServerImpl implements IoreqServer {
  readonly page = new Uint8Array(IOREQ_PAGE_SIZE);
  readonly guestMemory: GuestAccess;
  private readonly view = new DataView(this.page.buffer);
  private readonly ranges: Record<'pio' | 'mmio', IoRange[]> = { pio: [], mmio: [] };
  private readonly listeners: ((vcpu: number) => void)[] = [];
  private destroyed = false;
  /** Requests sent, for the dump. */
  requests = 0;

  constructor(
    readonly id: number,
    private readonly platform: HvmDomainPlatform,
    phys: GuestMemory,
    private readonly engine: Engine,
    private readonly log: Logger,
  ) {
    this.guestMemory = new ForeignGuestAccess(phys);
  }

  get domid(): number {
    return this.platform.domid;
  }

  onRequest(fn: (vcpu: number) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Whether this server claims `addr..addr+size-1` of `space` (Xen's ioreq_server_select). */
  claims(space: 'pio' | 'mmio', addr: number, size: number): boolean {
    if (this.destroyed) return false;
    const last = addr + size - 1;
    return this.ranges[space].some((r) => addr >= r.start && last <= r.end);
  }

  mapRange(space: 'pio' | 'mmio', start: number, end: number): void {
    this.checkLive('map_io_range');
    checkRange(this.domid, space, start, end);
    for (const other of this.platform.servers) {
      if (other.overlaps(space, start, end)) {
        throw new GuestError('EEXIST', `dom${this.domid} ioreq server ${this.id}: ${space} ${hex(start)}-${hex(end)} overlaps a range of ioreq server ${other.id}`, { domid: this.domid });
      }
    }
    this.ranges[space].push({ start, end });
  }

  unmapRange(space: 'pio' | 'mmio', start: number, end: number): void {
    this.checkLive('unmap_io_range');
    checkRange(this.domid, space, start, end);
    const list = this.ranges[space];
    const i = list.findIndex((r) => start >= r.start && end <= r.end);
    if (i < 0) throw new GuestError('ENOENT', `dom${this.domid} ioreq server ${this.id}: ${space} ${hex(start)}-${hex(end)} is not mapped`, { domid: this.domid });
    const r = list[i]!;
    const rest: IoRange[] = [];
    if (r.start < start) rest.push({ start: r.start, end: start - 1 });
    if (end < r.end) rest.push({ start: end + 1, end: r.end });
    list.splice(i, 1, ...rest);
  }

  /** Overlap with any range of this server (EEXIST checks of other servers). */
  overlaps(space: 'pio' | 'mmio', start: number, end: number): boolean {
    return !this.destroyed && this.ranges[space].some((r) => start <= r.end && end >= r.start);
  }

  /**
   * Xen's hvm_send_ioreq: fills vCPU `s`'s slot (state READY) and tells the listeners from an engine
   * event at the vCPU's local time, so a listener never runs inside the guest's instruction.
   */
  send(s: HvmVcpuState, space: 'pio' | 'mmio', addr: number, size: number, write: boolean, value: number): void {
    const vcpu = s.vcpu.vcpuId;
    const at = vcpu * IOREQ_SIZE;
    this.page.fill(0, at, at + IOREQ_SIZE);
    this.view.setBigUint64(at + Ioreq.addr, BigInt(addr), true);
    this.view.setBigUint64(at + Ioreq.data, write ? BigInt.asUintN(size * 8, BigInt(Math.trunc(value))) : 0n, true);
    this.view.setUint32(at + Ioreq.count, 1, true);
    this.view.setUint32(at + Ioreq.size, size, true);
    this.page[at + Ioreq.flags] = IOREQ_STATE.ready | (write ? 0 : IOREQ_FLAG_DIR_READ);
    this.page[at + Ioreq.type] = space === 'pio' ? IOREQ_TYPE.pio : IOREQ_TYPE.copy;
    s.pending = { server: this, size, write };
    this.requests++;
    this.engine.at(Math.max(this.engine.now, s.vcpu.localTime), () => this.notify(s, vcpu));
  }

  private notify(s: HvmVcpuState, vcpu: number): void {
    if (this.destroyed || s.pending?.server !== this) return;
    if (this.listeners.length === 0) this.log.warn(`dom${this.domid} ioreq server ${this.id}: vcpu${vcpu} has a request and nobody listens`);
    for (const fn of [...this.listeners]) {
      try {
        fn(vcpu);
      } catch (error) {
        this.log.error(`dom${this.domid} ioreq server ${this.id}: listener failed on vcpu${vcpu}'s request: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  complete(vcpu: number): void {
    const s = this.platform.vcpu(vcpu);
    if (s === undefined || s.pending?.server !== this) {
      throw new GuestError('EINVAL', `dom${this.domid} ioreq server ${this.id}: vcpu${vcpu} has no request in process`, { domid: this.domid });
    }
    const at = vcpu * IOREQ_SIZE;
    const { size, write } = s.pending;
    const data = this.view.getBigUint64(at + Ioreq.data, true);
    this.finish(s, write ? 0 : Number(BigInt.asUintN(Math.min(53, size * 8), data)));
  }

  /** Sets the slot to STATE_IOREQ_NONE, hands the value to the vCPU and wakes it (Xen's ioreq_complete_mmio). */
  private finish(s: HvmVcpuState, value: number): void {
    const at = s.vcpu.vcpuId * IOREQ_SIZE;
    this.page[at + Ioreq.flags] = this.page[at + Ioreq.flags]! & ~IOREQ_FLAG_STATE_MASK;
    s.pending = null;
    s.ioResult = value;
    s.vcpu.completeIo();
  }

  setIsaIrqLevel(irq: number, high: boolean): void {
    this.checkLive('set_isa_irq_level');
    this.wrapRange(() => this.platform.setIsaIrqLevel(irq, high, `ioreq${this.id}`));
  }

  setPciIntxLevel(device: number, intx: number, high: boolean): void {
    this.checkLive('set_pci_intx_level');
    this.wrapRange(() => this.platform.setDeviceIntx(device, intx, high, `ioreq${this.id}`));
  }

  injectMsi(message: MsiMessage): void {
    this.checkLive('inject_msi');
    try {
      this.platform.injectMsi(message);
    } catch (error) {
      throw new GuestError('EINVAL', `dom${this.domid} ioreq server ${this.id}: inject_msi: ${error instanceof Error ? error.message : String(error)}`, { domid: this.domid });
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    for (const s of this.platform.vcpus) if (s.pending?.server === this) this.finish(s, s.pending.write ? 0 : allOnes(s.pending.size));
    this.destroyed = true;
    this.ranges.pio.length = 0;
    this.ranges.mmio.length = 0;
    this.listeners.length = 0;
    const i = this.platform.servers.indexOf(this);
    if (i >= 0) this.platform.servers.splice(i, 1);
  }

  describe(): string {
    const list = (space: 'pio' | 'mmio') => this.ranges[space].map((r) => `${hex(r.start)}-${hex(r.end)}`).join(',');
    return `ioreq server ${this.id}: pio [${list('pio')}] mmio [${list('mmio')}] requests ${this.requests}`;
  }

  private checkLive(op: string): void {
    if (this.destroyed) throw new GuestError('ENOENT', `dom${this.domid} ioreq server ${this.id}: ${op} after destroy`, { domid: this.domid });
  }

  private wrapRange(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      if (error instanceof RangeError) throw new GuestError('EINVAL', error.message, { domid: this.domid });
      throw error;
    }
  }
}

function checkRange(domid: number, space: 'pio' | 'mmio', start: number, end: number): void {
  const limit = space === 'pio' ? 0xffff : Number.MAX_SAFE_INTEGER;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > limit) {
    throw new GuestError('EINVAL', `dom${domid}: bad ${space} range ${start}-${end}`, { domid });
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;
