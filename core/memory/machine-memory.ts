/** The host's machine frames: lazily backed 4 KiB pages with an owner table. */
import { GuestError, HardwareError } from '../api/errors.js';
import type { MachineMemory } from '../api/memory.js';
import { PAGE_SIZE } from '../public/memory.js';
import { type DomId, type MachineFrame, domId } from '../public/types.js';

/** Owner ids fit a u16 once shifted by one (DOMID_IDLE 0x7fff is the largest). */
const MAX_OWNER = 0x7fff;

function hexFrame(mfn: number): string {
  return `mfn 0x${mfn.toString(16)}`;
}

/**
 * {@link MachineMemory} over an owner table (`Uint16Array`, 0 = free, domid + 1 otherwise) and a sparse
 * array of frame buffers created on first touch. Allocation takes the lowest free frames, so the same
 * sequence of calls always yields the same frames. A freed frame drops its buffer: it costs nothing
 * until touched again, and comes back zeroed.
 */
export class HostMachineMemory implements MachineMemory {
  readonly totalFrames: number;
  private readonly owners: Uint16Array;
  private readonly counts = new Uint32Array(MAX_OWNER + 1);
  /** A lower bound of each owner's frames (valid while its count is not 0): where releaseAll starts. */
  private readonly lowestOf = new Uint32Array(MAX_OWNER + 1);
  private readonly bytes: (Uint8Array | undefined)[];
  private readonly words: (Uint32Array | undefined)[];
  private free_ = 0;
  private backed = 0;
  /** No frame below this index is free. */
  private lowestFree = 0;

  /** @param totalFrames the host's memory size in 4 KiB frames. */
  constructor(totalFrames: number) {
    if (!Number.isInteger(totalFrames) || totalFrames <= 0 || totalFrames > 0x4000_0000) {
      throw new HardwareError('memory-size', `machine memory: frame count must be an integer in 1..2^30, got ${totalFrames}`);
    }
    this.totalFrames = totalFrames;
    this.owners = new Uint16Array(totalFrames);
    this.bytes = new Array<Uint8Array | undefined>(totalFrames);
    this.words = new Array<Uint32Array | undefined>(totalFrames);
    this.free_ = totalFrames;
  }

  get freeFrames(): number {
    return this.free_;
  }

  get backedFrames(): number {
    return this.backed;
  }

  allocate(owner: DomId, count: number): MachineFrame[] {
    checkOwner(owner);
    if (!Number.isInteger(count) || count < 0) throw new HardwareError('memory-count', `machine memory: cannot allocate ${count} frames for dom${owner}`);
    if (count > this.free_) {
      throw new GuestError('ENOMEM', `out of machine memory: ${count} frames wanted, ${this.free_} free`, { domid: owner });
    }
    const owners = this.owners;
    const tag = owner + 1;
    const out: MachineFrame[] = new Array<MachineFrame>(count);
    let mfn = this.lowestFree;
    for (let i = 0; i < count; i++) {
      while (owners[mfn] !== 0) mfn++;
      owners[mfn] = tag;
      out[i] = mfn as MachineFrame;
      mfn++;
    }
    this.lowestFree = mfn;
    this.free_ -= count;
    if (count > 0) {
      const first = out[0]!;
      this.lowestOf[owner] = this.counts[owner] === 0 ? first : Math.min(this.lowestOf[owner]!, first);
    }
    this.counts[owner]! += count;
    return out;
  }

  allocateExtent(owner: DomId, order: number): MachineFrame {
    checkOwner(owner);
    if (!Number.isInteger(order) || order < 0 || order > 18) throw new HardwareError('memory-count', `machine memory: bad extent order ${order} for dom${owner}`);
    const size = 2 ** order;
    const owners = this.owners;
    // First fit over aligned runs, from the lowest frame that may be free.
    for (let base = Math.ceil(this.lowestFree / size) * size; base + size <= this.totalFrames; base += size) {
      let i = 0;
      while (i < size && owners[base + i] === 0) i++;
      if (i < size) continue;
      const tag = owner + 1;
      for (let k = 0; k < size; k++) owners[base + k] = tag;
      if (base === this.lowestFree) this.lowestFree = base + size;
      this.lowestOf[owner] = this.counts[owner] === 0 ? base : Math.min(this.lowestOf[owner]!, base);
      this.free_ -= size;
      this.counts[owner]! += size;
      return base as MachineFrame;
    }
    throw new GuestError('ENOMEM', `out of machine memory: no free run of ${size} aligned frames for dom${owner}`, { domid: owner });
  }

  free(owner: DomId, mfn: MachineFrame): void {
    checkOwner(owner);
    this.checkRange(mfn);
    const held = this.owners[mfn]!;
    if (held !== owner + 1) {
      const by = held === 0 ? 'free' : `owned by dom${held - 1}`;
      throw new HardwareError('memory-owner', `machine memory: dom${owner} cannot free ${hexFrame(mfn)}: it is ${by}`, { domid: owner });
    }
    this.release(mfn, owner);
  }

  releaseAll(owner: DomId): number {
    checkOwner(owner);
    const want = this.counts[owner]!;
    if (want === 0) return 0;
    const tag = owner + 1;
    const owners = this.owners;
    let released = 0;
    for (let mfn = this.lowestOf[owner]!; mfn < this.totalFrames && released < want; mfn++) {
      if (owners[mfn] === tag) {
        this.release(mfn, owner);
        released++;
      }
    }
    return released;
  }

  /** The frames `owner` holds, lowest first: a walk of its span only, not of all of memory. */
  framesOwnedBy(owner: DomId): MachineFrame[] {
    checkOwner(owner);
    const want = this.counts[owner]!;
    const out: MachineFrame[] = [];
    const tag = owner + 1;
    for (let mfn = this.lowestOf[owner]!; mfn < this.totalFrames && out.length < want; mfn++) if (this.owners[mfn] === tag) out.push(mfn as MachineFrame);
    return out;
  }

  ownerOf(mfn: MachineFrame): DomId | undefined {
    if (!(mfn >= 0 && mfn < this.totalFrames)) return undefined;
    const held = this.owners[mfn]!;
    return held === 0 ? undefined : domId(held - 1);
  }

  framesOf(owner: DomId): number {
    return owner >= 0 && owner <= MAX_OWNER ? this.counts[owner]! : 0;
  }

  isBacked(mfn: MachineFrame): boolean {
    return this.bytes[mfn] !== undefined;
  }

  frameBytes(mfn: MachineFrame): Uint8Array {
    return this.bytes[mfn] ?? this.back(mfn);
  }

  frameWords(mfn: MachineFrame): Uint32Array {
    return this.words[mfn] ?? this.wordsOf(mfn);
  }

  /** Backs a frame with a buffer and its byte view. */
  private back(mfn: number): Uint8Array {
    this.checkRange(mfn);
    if (this.owners[mfn] === 0) throw new HardwareError('memory-free-frame', `machine memory: access to ${hexFrame(mfn)}, which is free`);
    const bytes = new Uint8Array(PAGE_SIZE);
    this.bytes[mfn] = bytes;
    this.backed++;
    return bytes;
  }

  /** The word view of a frame, made on first use: a frame only read and written as bytes (a ring) never pays for it. */
  private wordsOf(mfn: number): Uint32Array {
    const bytes = this.bytes[mfn] ?? this.back(mfn);
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, PAGE_SIZE >> 2);
    this.words[mfn] = words;
    return words;
  }

  private release(mfn: number, owner: number): void {
    this.owners[mfn] = 0;
    this.counts[owner]!--;
    this.free_++;
    if (mfn < this.lowestFree) this.lowestFree = mfn;
    if (this.bytes[mfn] !== undefined) {
      this.bytes[mfn] = undefined;
      this.words[mfn] = undefined;
      this.backed--;
    }
  }

  private checkRange(mfn: number): void {
    if (!(Number.isInteger(mfn) && mfn >= 0 && mfn < this.totalFrames)) {
      throw new HardwareError('memory-range', `machine memory: ${hexFrame(mfn)} is outside the host's ${this.totalFrames} frames`);
    }
  }
}

function checkOwner(owner: number): void {
  if (!(Number.isInteger(owner) && owner >= 0 && owner <= MAX_OWNER)) {
    throw new HardwareError('memory-owner', `machine memory: ${owner} is not a domain id`);
  }
}
