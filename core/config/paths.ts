/** Key paths inside configuration values: `domains[2].disk[0]` as text and as segments, and "did you mean" hints. */

/** One step of a key path: an object key or a list index. */
export type PathSegment = string | number;

/** Finds the 1-based line of the key or item at `path` in the file it came from, when known. */
export type LineLookup = (path: readonly PathSegment[]) => number | undefined;

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/** Renders segments as users read them: `plugins[2].options.accessLog`. */
export function formatPath(path: readonly PathSegment[]): string {
  let text = '';
  for (const seg of path) {
    if (typeof seg === 'number') text += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) text += text === '' ? seg : `.${seg}`;
    else text += `[${JSON.stringify(seg)}]`;
  }
  return text;
}

/** Parses `plugins[2].options["a.b"]` back into segments. The inverse of {@link formatPath}. */
export function parsePath(text: string): PathSegment[] {
  const out: PathSegment[] = [];
  const re = /\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([^.[\]]+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(JSON.parse(m[2]) as string);
    else if (m[3] !== undefined) out.push(m[3]);
  }
  return out;
}

/** Edit distance between two strings, case-insensitive (Levenshtein with transpositions). */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row[j] = d;
    }
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** The known word closest to `word`, when it is close enough to be a likely typo. */
export function closest(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const k of known) {
    const d = distance(word, k);
    if (d < bestScore) {
      bestScore = d;
      best = k;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestScore <= limit ? best : undefined;
}

/** ` (did you mean "x"?)` or the empty string. */
export function didYouMean(word: string, known: Iterable<string>): string {
  const c = closest(word, known);
  return c === undefined ? '' : ` (did you mean "${c}"?)`;
}
