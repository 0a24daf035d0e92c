/**
 * Buffers for outgoing frames, carved from 1 MiB slabs: a fresh typed array per frame costs a backing
 * store allocation each; a view into a slab costs an object. Regions are never reused, so a frame a
 * driver or a hold queue keeps stays intact; a slab is freed once no frame of it is referenced.
 */

const SLAB_BYTES = 1 << 20;
let slab = new Uint8Array(SLAB_BYTES);
let used = 0;

/** A zero-filled buffer of `length` bytes for a frame. */
export function allocFrame(length: number): Uint8Array {
  if (length > SLAB_BYTES >> 4) return new Uint8Array(length);
  if (used + length > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    used = 0;
  }
  const frame = slab.subarray(used, used + length);
  used += (length + 7) & ~7;
  return frame;
}
