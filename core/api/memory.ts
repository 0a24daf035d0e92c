/** Memory contracts: the host's machine frames, and the narrow guest-memory view a device model gets. */
import type { InjectionToken } from 'tsyringe';
import type { DomId, GuestPhysAddr, MachineFrame } from '../public/types.js';

/**
 * The host's physical memory as 4 KiB machine frames. A frame's bytes exist only once touched, so a
 * large idle guest costs little. Every frame has at most one owner; the core refuses accesses that
 * neither ownership nor a grant allows.
 */
export interface MachineMemory {
  /** Frames the host has in all. */
  readonly totalFrames: number;
  /** Frames not owned by anyone. */
  readonly freeFrames: number;
  /**
   * Takes `count` free frames for `owner`. All or nothing: throws `GuestError('ENOMEM')` and takes
   * none when fewer are free. Frames come back zeroed.
   */
  allocate(owner: DomId, count: number): MachineFrame[];
  /** Returns one frame to the free pool. Throws if it is not owned by `owner`. */
  free(owner: DomId, mfn: MachineFrame): void;
  /** Frees every frame `owner` holds; returns how many. */
  releaseAll(owner: DomId): number;
  /** The owner of a frame, or `undefined` when it is free or out of range. */
  ownerOf(mfn: MachineFrame): DomId | undefined;
  /** How many frames `owner` holds. */
  framesOf(owner: DomId): number;
  /** The frame's 4096 bytes (allocated on first touch). Only the core calls this; it checks access first. */
  frameBytes(mfn: MachineFrame): Uint8Array;
}
export const MachineMemory = Symbol.for('xenoserver:MachineMemory') as InjectionToken<MachineMemory>;

/**
 * What a device model or backend sees of one guest's memory: guest-physical reads and writes that go
 * through the IOMMU/P2M checks. Out-of-range or unowned addresses throw; nothing partial is written.
 */
export interface GuestMemory {
  read(addr: GuestPhysAddr, length: number): Uint8Array;
  write(addr: GuestPhysAddr, data: Uint8Array): void;
  readU32(addr: GuestPhysAddr): number;
  writeU32(addr: GuestPhysAddr, value: number): void;
}
