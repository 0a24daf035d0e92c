/** A small, honest MachineMemory for tests: real ownership, all-or-nothing allocation, lazily backed zeroed frames. */
import type { MachineMemory } from '../api/memory.js';
import { GuestError, HardwareError } from '../api/errors.js';
import { PAGE_SIZE } from '../public/memory.js';
import { machineFrame, type DomId, type MachineFrame } from '../public/types.js';

/**
 * Frames are handed out lowest-free-first, so tests see stable frame numbers. Bytes exist only once an
 * owned frame is touched and are dropped when it is freed, so a reallocated frame reads as zeros.
 */
export class FakeMachineMemory implements MachineMemory {
  private readonly owners: (DomId | undefined)[];
  private readonly backing = new Map<number, { bytes: Uint8Array; words: Uint32Array }>();
  private readonly held = new Map<number, Set<number>>();
  private freeCount = 0;
  /** Lowest frame that might be free. */
  private hint = 0;

  constructor(readonly totalFrames: number) {
    if (!Number.isInteger(totalFrames) || totalFrames < 0) throw new RangeError(`FakeMachineMemory: frame count must be a non-negative integer, got ${totalFrames}`);
    this.owners = new Array<DomId | undefined>(totalFrames).fill(undefined);
    this.freeCount = totalFrames;
  }

  get freeFrames(): number {
    return this.freeCount;
  }

  get backedFrames(): number {
    return this.backing.size;
  }

  private heldBy(owner: DomId): Set<number> {
    let set = this.held.get(owner);
    if (set === undefined) {
      set = new Set();
      this.held.set(owner, set);
    }
    return set;
  }

  private release(mfn: number): void {
    this.owners[mfn] = undefined;
    this.backing.delete(mfn);
    this.freeCount++;
    if (mfn < this.hint) this.hint = mfn;
  }

  allocate(owner: DomId, count: number): MachineFrame[] {
    if (!Number.isInteger(count) || count < 0) throw new GuestError('EINVAL', `cannot allocate ${count} frames`, { domid: owner });
    if (count > this.freeCount) throw new GuestError('ENOMEM', `${count} frames wanted, ${this.freeCount} free`, { domid: owner });
    const set = this.heldBy(owner);
    const out: MachineFrame[] = [];
    for (let mfn = this.hint; out.length < count; mfn++) {
      if (this.owners[mfn] === undefined) {
        this.owners[mfn] = owner;
        set.add(mfn);
        out.push(machineFrame(mfn));
      }
    }
    this.hint = out.length > 0 ? out[out.length - 1]! + 1 : this.hint;
    this.freeCount -= count;
    return out;
  }

  allocateExtent(owner: DomId, order: number): MachineFrame {
    const size = 2 ** order;
    for (let base = 0; base + size <= this.totalFrames; base += size) {
      let ok = true;
      for (let i = 0; i < size && ok; i++) ok = this.owners[base + i] === undefined;
      if (!ok) continue;
      const set = this.heldBy(owner);
      for (let i = 0; i < size; i++) {
        this.owners[base + i] = owner;
        set.add(base + i);
      }
      this.freeCount -= size;
      return machineFrame(base);
    }
    throw new GuestError('ENOMEM', `no free run of ${size} frames`, { domid: owner });
  }

  free(owner: DomId, mfn: MachineFrame): void {
    const current = this.ownerOf(mfn);
    if (current !== owner) throw new GuestError('EINVAL', `mfn 0x${mfn.toString(16)} is ${current === undefined ? 'free' : `owned by dom${current}`}, not by dom${owner}`, { domid: owner });
    this.release(mfn);
    this.held.get(owner)!.delete(mfn);
  }

  releaseAll(owner: DomId): number {
    const set = this.held.get(owner);
    if (set === undefined) return 0;
    for (const mfn of set) this.release(mfn);
    this.held.delete(owner);
    return set.size;
  }

  ownerOf(mfn: MachineFrame): DomId | undefined {
    return Number.isInteger(mfn) && mfn >= 0 && mfn < this.totalFrames ? this.owners[mfn] : undefined;
  }

  firstNotOwned(owner: DomId, mfn: MachineFrame, count: number): number {
    for (let f = mfn; f < mfn + count; f++) if (this.ownerOf(f as MachineFrame) !== owner) return f;
    return -1;
  }

  framesOf(owner: DomId): number {
    return this.held.get(owner)?.size ?? 0;
  }

  isBacked(mfn: MachineFrame): boolean {
    return this.backing.has(mfn);
  }

  frameBytes(mfn: MachineFrame): Uint8Array {
    return this.back(mfn).bytes;
  }

  frameWords(mfn: MachineFrame): Uint32Array {
    return this.back(mfn).words;
  }

  private back(mfn: MachineFrame): { bytes: Uint8Array; words: Uint32Array } {
    if (this.ownerOf(mfn) === undefined) {
      const where = Number.isInteger(mfn) && mfn >= 0 && mfn < this.totalFrames ? 'free' : `outside machine memory (${this.totalFrames} frames)`;
      throw new HardwareError('mfn', `mfn 0x${mfn.toString(16)} is ${where}`);
    }
    let b = this.backing.get(mfn);
    if (b === undefined) {
      const buffer = new ArrayBuffer(PAGE_SIZE);
      b = { bytes: new Uint8Array(buffer), words: new Uint32Array(buffer) };
      this.backing.set(mfn, b);
    }
    return b;
  }
}
