/** Small helpers the console daemon and the serial consoles share. */
import type { Logger } from '../../../core/api/index.js';

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Calls every listener with `text` (a copy of the set, so one may unsubscribe while called); a
 * listener that throws is logged as `what` and the others still run.
 */
export function fanOut(listeners: Iterable<(text: string) => void>, text: string, log: Logger, what: string): void {
  for (const fn of [...listeners]) {
    try {
      fn(text);
    } catch (error) {
      log.error(`${what} failed: ${errorMessage(error)}`);
    }
  }
}

/** A non-negative decimal integer (as libxl writes ring-ref and port), or undefined. */
export function decimal(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,10}$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return n <= 0xffff_ffff ? n : undefined;
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
