/**
 * The device model's side of one `ioreq_t` (public/hvm/ioreq.h): decode the slot Xen filled, run the
 * access (repeated `count` times for rep ins/outs/movs, through guest memory when `data_is_ptr`), and
 * write the answer back with state IORESP_READY — QEMU's handle_ioreq / cpu_ioreq_pio / cpu_ioreq_move.
 */
import type { GuestAccess } from '../../../core/api/index.js';
import {
  IOREQ_FLAG_DATA_IS_PTR,
  IOREQ_FLAG_DF,
  IOREQ_FLAG_DIR_READ,
  IOREQ_FLAG_STATE_MASK,
  IOREQ_SIZE,
  IOREQ_STATE,
  IOREQ_TYPE,
  Ioreq,
} from '../../../core/public/index.js';

/** A decoded ioreq. */
export interface IoreqFields {
  readonly addr: number;
  readonly data: number;
  readonly count: number;
  readonly size: number;
  readonly state: number;
  readonly dataIsPtr: boolean;
  readonly read: boolean;
  readonly df: boolean;
  readonly type: number;
}

/** What an ioreq is carried out on: the guest's buses and its memory. */
export interface IoreqTarget {
  read(space: 'pio' | 'mmio', addr: number, size: number): number;
  write(space: 'pio' | 'mmio', addr: number, size: number, value: number): void;
  readonly memory: GuestAccess;
  /** A request the device model cannot honour (bad size, unknown type), for the log. */
  warn(message: string): void;
}

/** Reads vCPU `vcpu`'s slot of the shared page. */
export function readIoreq(page: Uint8Array, vcpu: number): IoreqFields {
  const view = new DataView(page.buffer, page.byteOffset + vcpu * IOREQ_SIZE, IOREQ_SIZE);
  const flags = view.getUint8(Ioreq.flags);
  return {
    addr: Number(view.getBigUint64(Ioreq.addr, true)),
    data: Number(view.getBigUint64(Ioreq.data, true)),
    count: view.getUint32(Ioreq.count, true),
    size: view.getUint32(Ioreq.size, true),
    state: flags & IOREQ_FLAG_STATE_MASK,
    dataIsPtr: (flags & IOREQ_FLAG_DATA_IS_PTR) !== 0,
    read: (flags & IOREQ_FLAG_DIR_READ) !== 0,
    df: (flags & IOREQ_FLAG_DF) !== 0,
    type: view.getUint8(Ioreq.type),
  };
}

/** Sets the slot's state (keeping the other flag bits). */
export function setIoreqState(page: Uint8Array, vcpu: number, state: number): void {
  const at = vcpu * IOREQ_SIZE + Ioreq.flags;
  page[at] = (page[at]! & ~IOREQ_FLAG_STATE_MASK) | state;
}

/** A read nobody could answer: every bit set. */
const ALL_ONES_64 = (1n << 64n) - 1n;

function writeData(page: Uint8Array, vcpu: number, value: number | bigint): void {
  // An all-ones u64 read as a number rounds up to 2^64: keep it all ones.
  const big = typeof value === 'bigint' ? value : value >= 2 ** 64 ? ALL_ONES_64 : BigInt(Math.trunc(value));
  new DataView(page.buffer, page.byteOffset + vcpu * IOREQ_SIZE, IOREQ_SIZE).setBigUint64(Ioreq.data, BigInt.asUintN(64, big), true);
}


const ACCESS_SIZES: Readonly<Record<'pio' | 'mmio', readonly number[]>> = { pio: [1, 2, 4], mmio: [1, 2, 4, 8] };
/** Bound on `count` (Xen never sends more than a page's worth of repetitions). */
const MAX_REPS = 4096;

function memRead(mem: GuestAccess, addr: number, size: number): number {
  switch (size) {
    case 1: return mem.readU8(addr);
    case 2: return mem.readU16(addr);
    case 4: return mem.readU32(addr);
    default: return mem.readU64(addr);
  }
}

function memWrite(mem: GuestAccess, addr: number, size: number, value: number): void {
  switch (size) {
    case 1: return mem.writeU8(addr, value & 0xff);
    case 2: return mem.writeU16(addr, value & 0xffff);
    case 4: return mem.writeU32(addr, value >>> 0);
    default: return mem.writeU64(addr, value);
  }
}

/**
 * Carries out vCPU `vcpu`'s request and writes the answer (data, then state IORESP_READY). Returns the
 * number of repetitions done (0 for a request that was not STATE_IOREQ_READY: left as it is). Never
 * throws for what the guest put in the slot: a bad size reads all ones, a bad data pointer stops the rep.
 */
export function handleIoreq(page: Uint8Array, vcpu: number, target: IoreqTarget): number {
  const req = readIoreq(page, vcpu);
  if (req.state !== IOREQ_STATE.ready) return 0;
  setIoreqState(page, vcpu, IOREQ_STATE.inprocess);
  let reps = 1;
  if (req.type === IOREQ_TYPE.pio || req.type === IOREQ_TYPE.copy) {
    const space = req.type === IOREQ_TYPE.pio ? 'pio' : 'mmio';
    if (!ACCESS_SIZES[space].includes(req.size)) {
      target.warn(`bad ${space} access size ${req.size} at 0x${req.addr.toString(16)}`);
      if (req.read && !req.dataIsPtr) writeData(page, vcpu, ALL_ONES_64);
    } else {
      reps = carryOut(page, vcpu, req, space, target);
    }
  } else if (req.type !== IOREQ_TYPE.timeoffset && req.type !== IOREQ_TYPE.invalidate) {
    target.warn(`unknown ioreq type ${req.type}`);
    if (req.read) writeData(page, vcpu, ALL_ONES_64);
  }
  setIoreqState(page, vcpu, IOREQ_STATE.respReady);
  return reps;
}

function carryOut(page: Uint8Array, vcpu: number, req: IoreqFields, space: 'pio' | 'mmio', target: IoreqTarget): number {
  const count = Math.min(Math.max(req.count, 1), MAX_REPS);
  const step = req.df ? -req.size : req.size;
  if (!req.dataIsPtr) {
    // A single access; for MMIO with count > 1 (rep stos) the same value goes to successive addresses.
    let value = req.data;
    for (let i = 0; i < count; i++) {
      const addr = space === 'pio' ? req.addr : req.addr + i * step;
      if (req.read) value = target.read(space, addr, req.size);
      else target.write(space, addr, req.size, req.data);
    }
    if (req.read) writeData(page, vcpu, value);
    return count;
  }
  for (let i = 0; i < count; i++) {
    const addr = space === 'pio' ? req.addr : req.addr + i * step;
    const ptr = req.data + i * step;
    try {
      if (req.read) memWrite(target.memory, ptr, req.size, target.read(space, addr, req.size));
      else target.write(space, addr, req.size, memRead(target.memory, ptr, req.size));
    } catch (error) {
      target.warn(`rep ${space} at 0x${addr.toString(16)}: guest buffer 0x${ptr.toString(16)} unreachable (${error instanceof Error ? error.message : String(error)})`);
      return i;
    }
  }
  return count;
}
