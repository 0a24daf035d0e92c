/** The host's machine frames: lazily backed 4 KiB pages with an owner table. */
import { GuestError, HardwareError } from '../api/errors.js';
import type { MachineMemory } from '../api/memory.js';
import { PAGE_SIZE } from '../public/memory.js';
import { type DomId, type MachineFrame, domId } from '../public/types.js';

/** Owner ids fit a u16 once shifted by one (DOMID_IDLE 0x7fff is the largest). */
const MAX_OWNER = 0x7fff;
/** Frames per 2 MiB chunk, the unit {@link HostMachineMemory.allocateExtent} looks for superpages in. */
const CHUNK_SHIFT = 9;
const CHUNK = 1 << CHUNK_SHIFT;
/** Frames of backing memory per ArrayBuffer: allocating a buffer costs microseconds and ~100 bytes of bookkeeping, a view of one a tenth of that. */
const SLAB_FRAMES = 64;

function hexFrame(mfn: number): string {
  return `mfn 0x${mfn.toString(16)}`;
}

/**
 * {@link MachineMemory} over an owner table (`Uint16Array`, 0 = free, domid + 1 otherwise) and a sparse
 * array of frame buffers created on first touch. Allocation takes the lowest free frames, so the same
 * sequence of calls always yields the same frames. A frame's bytes are a 4 KiB view of a slab of
 * backing memory; a freed frame is scrubbed (zeroed, as Xen scrubs freed pages) and its view goes back
 * to a pool for the next frame touched, so it costs nothing until touched again. As on real hardware,
 * whoever still holds a freed frame's view would see the next owner's data: the core drops its
 * mappings of a frame before it frees it, as Xen flushes them.
 */
export class HostMachineMemory implements MachineMemory {
  readonly totalFrames: number;
  private readonly owners: Uint16Array;
  private readonly counts = new Uint32Array(MAX_OWNER + 1);
  /** A lower bound of each owner's frames (valid while its count is not 0): where releaseAll starts. */
  private readonly lowestOf = new Uint32Array(MAX_OWNER + 1);
  private readonly bytes: (Uint8Array | undefined)[];
  private readonly words: (Uint32Array | undefined)[];
  /** Scrubbed 4 KiB views, ready to back a frame. */
  private readonly spare: Uint8Array[] = [];
  /** The slab views are being cut from, and how many frames of it are taken. */
  private slab: ArrayBuffer | undefined;
  private slabUsed = SLAB_FRAMES;
  private free_ = 0;
  private backed = 0;
  /** No frame below this index is free. */
  private lowestFree = 0;
  /** Free frames in each 2 MiB chunk: a superpage's search reads one number per chunk, not 512. */
  private readonly chunkFree: Uint16Array;
  /** No chunk below this one is wholly free. */
  private lowestFreeChunk = 0;

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
    const chunks = Math.ceil(totalFrames / CHUNK);
    this.chunkFree = new Uint16Array(chunks).fill(CHUNK);
    // A partial last chunk is never wholly free, so no superpage runs past the end.
    if (totalFrames % CHUNK !== 0) this.chunkFree[chunks - 1] = totalFrames % CHUNK;
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
    const chunkFree = this.chunkFree;
    for (let i = 0; i < count; i++) {
      while (owners[mfn] !== 0) mfn++;
      owners[mfn] = tag;
      chunkFree[mfn >> CHUNK_SHIFT]!--;
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
    // First fit over aligned runs, from the lowest frame (or wholly free chunk) that may be free.
    const base = order >= CHUNK_SHIFT ? this.findFreeChunks(size >> CHUNK_SHIFT) : this.findFreeRun(size);
    if (base >= 0) {
      this.owners.fill(owner + 1, base, base + size);
      if (order >= CHUNK_SHIFT) this.chunkFree.fill(0, base >> CHUNK_SHIFT, (base + size) >> CHUNK_SHIFT);
      else this.chunkFree[base >> CHUNK_SHIFT]! -= size;
      if (base === this.lowestFree) this.lowestFree = base + size;
      this.lowestOf[owner] = this.counts[owner] === 0 ? base : Math.min(this.lowestOf[owner]!, base);
      this.free_ -= size;
      this.counts[owner]! += size;
      return base as MachineFrame;
    }
    throw new GuestError('ENOMEM', `out of machine memory: no free run of ${size} aligned frames for dom${owner}`, { domid: owner });
  }

  /** First fit of `n` aligned, wholly free chunks (a 2 MiB or larger extent); −1 when there is none. */
  private findFreeChunks(n: number): number {
    const chunkFree = this.chunkFree;
    const chunks = chunkFree.length;
    while (this.lowestFreeChunk < chunks && chunkFree[this.lowestFreeChunk] !== CHUNK) this.lowestFreeChunk++;
    for (let c = Math.ceil(this.lowestFreeChunk / n) * n; c + n <= chunks; c += n) {
      let i = 0;
      while (i < n && chunkFree[c + i] === CHUNK) i++;
      if (i === n) return c << CHUNK_SHIFT;
    }
    return -1;
  }

  /** First fit of an aligned run of `size` (< 512) free frames, skipping chunks without room for it; −1 when there is none. */
  private findFreeRun(size: number): number {
    const owners = this.owners;
    const chunkFree = this.chunkFree;
    for (let base = Math.ceil(this.lowestFree / size) * size; base + size <= this.totalFrames; base += size) {
      if (chunkFree[base >> CHUNK_SHIFT]! < size) {
        base = (((base >> CHUNK_SHIFT) + 1) << CHUNK_SHIFT) - size;
        continue;
      }
      let i = 0;
      while (i < size && owners[base + i] === 0) i++;
      if (i === size) return base;
    }
    return -1;
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

  firstNotOwned(owner: DomId, mfn: MachineFrame, count: number): number {
    if (!(Number.isInteger(mfn) && mfn >= 0)) throw new HardwareError('memory-range', `machine memory: ${mfn} is not a frame number`);
    const owners = this.owners;
    const tag = owner + 1;
    const end = Math.min(mfn + count, this.totalFrames);
    for (let f = mfn; f < end; f++) if (owners[f] !== tag) return f;
    // Past the end of memory nothing is held.
    return end < mfn + count ? Math.max(end, mfn) : -1;
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
    const bytes = this.spare.pop() ?? this.cut();
    this.bytes[mfn] = bytes;
    this.backed++;
    return bytes;
  }

  /** A fresh view from the current slab (a new slab when it is used up). */
  private cut(): Uint8Array {
    if (this.slabUsed === SLAB_FRAMES) {
      this.slab = new ArrayBuffer(SLAB_FRAMES * PAGE_SIZE);
      this.slabUsed = 0;
    }
    return new Uint8Array(this.slab!, PAGE_SIZE * this.slabUsed++, PAGE_SIZE);
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
    const chunk = mfn >> CHUNK_SHIFT;
    if (++this.chunkFree[chunk]! === CHUNK && chunk < this.lowestFreeChunk) this.lowestFreeChunk = chunk;
    const bytes = this.bytes[mfn];
    if (bytes !== undefined) {
      bytes.fill(0);
      this.spare.push(bytes);
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
