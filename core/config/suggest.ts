/** Close-match suggestions for misspelt names (keys, plugins, features, builds): `did you mean "credit"?`. */

/** Edit distance between two strings (insertions, deletions, substitutions, adjacent swaps). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** Up to `limit` candidates close to `name`, closest first (ties by name). Case-insensitive. */
export function closeMatches(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const wanted = name.toLowerCase();
  const scored: Array<[number, string]> = [];
  for (const candidate of new Set(candidates)) {
    const c = candidate.toLowerCase();
    const distance = editDistance(wanted, c);
    const threshold = Math.min(Math.max(1, Math.floor(wanted.length / 3)), wanted.length - 1);
    if (distance <= threshold || (wanted.length >= 3 && c.includes(wanted))) scored.push([distance, candidate]);
  }
  scored.sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
  return scored.slice(0, limit).map(([, c]) => c);
}

/** ` (did you mean "a" or "b"?)`, or the empty string when nothing is close (core/config's wording). */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const matches = closeMatches(name, candidates).map((m) => `"${m}"`);
  if (matches.length === 0) return '';
  const last = matches.pop() as string;
  return ` (did you mean ${matches.length > 0 ? `${matches.join(', ')} or ${last}` : last}?)`;
}
