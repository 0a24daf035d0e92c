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

export { didYouMean } from './suggest.js';
