/** Canonical linear addresses: folding the 64-bit forms callers use into 0 ≤ va < 2^48, and printing them. */

/** First address above the canonical lower half. */
export const CANONICAL_LOW_END = 2 ** 47;

/** Bytes one entry maps at each paging level (1 = PT … 4 = PML4); index `level` of an address is `(addr / LEVEL_SPAN[level]) & 511`. */
export const LEVEL_SPAN = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39] as const;
/** 2^32: joins the high and low halves of a 64-bit entry. */
export const TWO_32 = 2 ** 32;
const SPAN_48 = 2 ** 48;
const SPAN_64 = 2 ** 64;

/**
 * Folds a canonical address to its 48-bit form. Accepts the lower half as is, the upper half either
 * sign-extended as a negative number (−2^47 ≤ v < 0, exact to the byte) or as an unsigned 64-bit value
 * (exact only at page granularity in a double). Returns −1 for a non-canonical address.
 */
export function foldCanonical(vaddr: number): number {
  if (vaddr >= 0 && vaddr < CANONICAL_LOW_END) return vaddr;
  if (vaddr < 0 && vaddr >= -CANONICAL_LOW_END) return vaddr + SPAN_48;
  if (vaddr >= SPAN_64 - CANONICAL_LOW_END && vaddr < SPAN_64) return vaddr - SPAN_64 + SPAN_48;
  return -1;
}

/** A folded 48-bit address back in sign-extended form (upper-half addresses become negative). */
export function unfoldCanonical(va: number): number {
  return va >= CANONICAL_LOW_END ? va - SPAN_48 : va;
}

/** `0x` and 16 hex digits of the 64-bit canonical address of a folded one. */
export function formatVaddr(va: number): string {
  if (va >= CANONICAL_LOW_END && va < SPAN_48) return `0xffff${va.toString(16).padStart(12, '0')}`;
  if (va >= 0 && Number.isInteger(va)) return `0x${va.toString(16).padStart(16, '0')}`;
  return String(va);
}
