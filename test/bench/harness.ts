/** A small benchmark harness: each *.bench.ts exports `benchmarks`; run.ts runs them and writes docs/benchmarks.md. */

export interface BenchResult {
  /** The figure, in `unit`. */
  value: number;
  /** Free text shown beside the figure (sample sizes, secondary figures). */
  detail?: string;
}

export interface Benchmark {
  /** Which area: `engine`, `mmu`, `domain`... */
  group: string;
  name: string;
  /** e.g. `M events/s`, `µs`. */
  unit: string;
  /** The figure the issues ask for: `min` for rates, `max` for latencies. */
  target?: { min?: number; max?: number };
  run(): BenchResult | Promise<BenchResult>;
}

/** Wall-clock milliseconds of a high-resolution monotonic clock (benchmarks only). */
export function nowMs(): number {
  return performance.now();
}

/**
 * Runs `body(n)` (which must do `n` operations) with growing `n` until one run takes ≥ `minMs`,
 * then takes the best of `rounds` runs of that size. Returns operations per second.
 */
export function opsPerSecond(body: (n: number) => void, { minMs = 200, rounds = 5 } = {}): number {
  let n = 1000;
  for (;;) {
    const t0 = nowMs();
    body(n);
    const dt = nowMs() - t0;
    if (dt >= minMs / 4 || n > 1e9) break;
    n *= 4;
  }
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = nowMs();
    body(n);
    best = Math.min(best, nowMs() - t0);
  }
  return (n / best) * 1000;
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
