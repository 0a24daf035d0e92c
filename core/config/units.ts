/** Sizes and durations as users write them (`16GiB`, `512M`, `500ms`), turned into bytes and nanoseconds. */

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** What a size must look like, in the words error messages use. */
export const SIZE_EXPECTED = 'a size like 512MiB, 2G or a number of MiB';
/** Pattern of a size string; the JSON Schema uses it so editors flag bad sizes too. */
export const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*([bBkKmMgGtT]|[kKmMgGtT][iI][bB])?\\s*$';

/**
 * Parses a size: a number in `defaultUnit` (MiB unless told, as xl takes memory) or a string with a
 * binary unit — `B`, `K`/`KiB`, `M`/`MiB`, `G`/`GiB`, `T`/`TiB`, any case, as xl accepts `512m`.
 * Returns whole bytes, or an error message.
 */
export function parseSize(input: unknown, defaultUnit = 1024 ** 2): { bytes: number } | { error: string } {
  let amount: number;
  let unit = defaultUnit;
  if (typeof input === 'number') {
    amount = input;
  } else if (typeof input === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(input);
    if (!m) return { error: `expected ${SIZE_EXPECTED}, got ${JSON.stringify(input)}` };
    amount = Number(m[1]);
    const suffix = (m[2] ?? '').toLowerCase();
    if (suffix !== '') {
      const factor = SIZE_UNITS[suffix];
      if (factor === undefined) {
        const hint = /^[kmgt]b$/.test(suffix) ? ` (sizes are binary: write ${suffix[0]!.toUpperCase()}iB)` : '';
        return { error: `unknown size unit "${m[2]}" in ${JSON.stringify(input)}${hint}` };
      }
      unit = factor;
    }
  } else {
    return { error: `expected ${SIZE_EXPECTED}, got ${describeValue(input)}` };
  }
  if (!Number.isFinite(amount) || amount < 0) return { error: `expected ${SIZE_EXPECTED}, got ${describeValue(input)}` };
  const bytes = amount * unit;
  if (!Number.isSafeInteger(bytes)) return { error: `size ${describeValue(input)} is not a whole number of bytes or is too large` };
  return { bytes };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** What a duration must look like, in the words error messages use. */
export const DURATION_EXPECTED = 'a duration like 500ms, 2s or 1m';
/** Pattern of a duration string, for the JSON Schema. */
export const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ns|us|µs|ms|s|m|h)\\s*$';

/** Parses a duration with a unit (`ns`, `us`, `ms`, `s`, `m`, `h`) into whole nanoseconds, or an error message. */
export function parseDuration(input: unknown): { ns: number } | { error: string } {
  if (typeof input === 'number') return { error: `expected ${DURATION_EXPECTED}, got ${input} (say which unit)` };
  if (typeof input !== 'string') return { error: `expected ${DURATION_EXPECTED}, got ${describeValue(input)}` };
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zµ]+)\s*$/.exec(input);
  if (!m) return { error: `expected ${DURATION_EXPECTED}, got ${JSON.stringify(input)}` };
  const factor = DURATION_UNITS[m[2]!];
  if (factor === undefined) return { error: `unknown duration unit "${m[2]}" in ${JSON.stringify(input)} (use ns, us, ms, s, m or h)` };
  const ns = Math.round(Number(m[1]) * factor);
  if (!Number.isSafeInteger(ns)) return { error: `duration ${JSON.stringify(input)} is too long` };
  return { ns };
}

/** Renders bytes in the largest binary unit that divides them: `16GiB`, `1536KiB`, `7B`. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes !== 0 && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}

/** A value as an error message shows it: strings quoted, containers named. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}
