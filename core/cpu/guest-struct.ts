/**
 * copy_from_guest of one hypercall argument struct: the whole struct in one guest access (one
 * translation, one fault check), read through the returned view. The view is shared: read it before the
 * next copy.
 */
import type { HypercallContext } from '../api/hypercall.js';

const MAX_STRUCT = 64;
const scratch = new Uint8Array(MAX_STRUCT);
const view = new DataView(scratch.buffer);
/** The scratch's first `size` bytes for each size, made once (a hypercall per timer tick copies one struct). */
const prefixes = Array.from({ length: MAX_STRUCT + 1 }, (_, size) => scratch.subarray(0, size));

/** Copies `size` (≤ 64) bytes at guest address `addr` of the caller. */
export function copyStructFromGuest(ctx: HypercallContext, addr: number, size: number): DataView {
  const into = prefixes[size];
  if (into === undefined) throw new RangeError(`argument struct of ${size} bytes: at most ${MAX_STRUCT}`);
  ctx.guest.readInto(addr, into);
  return view;
}

/** A u64 field of a copied struct as the guest accessors read one: exact below 2^53, negative when bit 63 is set. */
export function u64Field(v: DataView, offset: number): number {
  return v.getInt32(offset + 4, true) * 2 ** 32 + v.getUint32(offset, true);
}
