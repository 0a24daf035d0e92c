/** xenstore path rules: canonicalisation of relative paths and C xenstored's is_valid_nodename. */
import { XENSTORE_REL_PATH_MAX, latin1 } from './wire.js';

/** The special watch paths (also nodes carrying permissions). */
export const SPECIAL_PATHS = ['@introduceDomain', '@releaseDomain'] as const;
export type SpecialPath = (typeof SPECIAL_PATHS)[number];

/** `/local/domain/<domid>`: a domain's home, where its relative paths resolve. */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

/** C's `canonicalize`: absolute and `@` paths unchanged, others under the caller's home. */
export function canonicalize(path: string, domid: number): string {
  const c = path.charCodeAt(0);
  if (c === 47 /* / */ || c === 64 /* @ */) return path;
  return `${domainPath(domid)}/${path}`;
}

/** C's valid_chars, as a byte table. */
const VALID_CHAR = (() => {
  const t = new Uint8Array(128);
  for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-/_@') t[c.charCodeAt(0)] = 1;
  return t;
})();
const LOCAL = /^\/local\/domain\/(\d{1,5})\//;

/**
 * C's is_valid_nodename: absolute, no trailing `/` (except `/`), no `//`, chars `A-Za-z0-9-/_@`, and
 * for an unprivileged caller at most `pathMax` chars beyond `/local/domain/<n>/` (or of the whole path).
 */
export function isValidNodename(path: string, privileged: boolean, pathMax = XENSTORE_REL_PATH_MAX): boolean {
  const n = path.length;
  if (n === 0 || path.charCodeAt(0) !== 47) return false;
  if (n > 1 && path.charCodeAt(n - 1) === 47) return false;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c >= 128 || VALID_CHAR[c] === 0 || (c === 47 && prev === 47)) return false;
    prev = c;
  }
  if (!privileged) {
    const m = LOCAL.exec(path);
    const localOff = m ? m[0].length : 0;
    if (n - localOff > pathMax) return false;
  }
  return true;
}

/**
 * isValidNodename over the bytes [start, end) of a request, for a privileged caller (no length rule),
 * without decoding them first. A NUL in the range makes it invalid.
 */
export function isValidNodenameBytes(b: Uint8Array, start: number, end: number): boolean {
  const n = end - start;
  if (n === 0 || b[start] !== 47) return false;
  if (n > 1 && b[end - 1] === 47) return false;
  let prev = 0;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c >= 128 || VALID_CHAR[c] === 0 || (c === 47 && prev === 47)) return false;
    prev = c;
  }
  return true;
}

/** One step of the path hash: mixes a 32-bit word in (murmur3's round). */
function mix(h: number, w: number): number {
  w = Math.imul(w, 0xcc9e2d51);
  w = (w << 15) | (w >>> 17);
  h ^= Math.imul(w, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** A path's hash: its chars (one byte each) taken four at a time, little-endian, with the length; 30 bits, so a small integer. */
export function pathHash(path: string): number {
  return prefixHash(path, path.length);
}

/** {@link pathHash} of the first `n` chars of `path` (a parent's path, without slicing it out). */
export function prefixHash(path: string, n: number): number {
  let h = n;
  let i = 0;
  for (; i + 4 <= n; i += 4) h = mix(h, path.charCodeAt(i) | (path.charCodeAt(i + 1) << 8) | (path.charCodeAt(i + 2) << 16) | (path.charCodeAt(i + 3) << 24));
  let w = 0;
  for (let k = 0; i < n; i++, k += 8) w |= path.charCodeAt(i) << k;
  return mix(h, w) & 0x3fffffff;
}

/** {@link pathHash} of the bytes [start, end) of `b` (one char per byte). */
export function bytesHash(b: Uint8Array, start: number, end: number): number {
  let h = end - start;
  let i = start;
  for (; i + 4 <= end; i += 4) h = mix(h, b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
  let w = 0;
  for (let k = 0; i < end; i++, k += 8) w |= b[i]! << k;
  return mix(h, w) & 0x3fffffff;
}

/** True for `@introduceDomain` / `@releaseDomain`. */
export function isSpecialPath(path: string): path is SpecialPath {
  return path === '@introduceDomain' || path === '@releaseDomain';
}

/** The parent of an absolute path (`/` for top-level nodes). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The last component of an absolute path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** `parent` + `/` + `name`, without doubling the root's slash. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** True when `path` is `ancestor` or below it (C's is_child). */
export function isChildOf(path: string, ancestor: string): boolean {
  if (ancestor === '/') return true;
  if (!path.startsWith(ancestor)) return false;
  return path.length === ancestor.length || path.charCodeAt(ancestor.length) === 47;
}

/** C's atoi: optional spaces and sign, then leading digits; anything else gives 0. */
export function atoi(s: string): number {
  const m = /^[ \t\n\r\f\v]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  return Number.parseInt(m[1]!, 10) | 0;
}

const scratch = new Uint8Array(4096);
/**
 * A flat copy of a path or name: paths are often built by concatenation or slicing (V8 cons and sliced
 * strings, the latter keeping their whole parent string alive), and a stored path is compared char by
 * char on every lookup.
 */
export function flatten(path: string): string {
  const n = path.length;
  if (n > scratch.length) return path;
  for (let i = 0; i < n; i++) scratch[i] = path.charCodeAt(i);
  return latin1(scratch, 0, n);
}

/** Distinct child names kept by {@link internName}; past this many the table starts over (bounded memory). */
const NAMES_MAX = 4096;
const names = new Map<string, string>();

/**
 * A child name as a child list stores it: one flat copy shared by every list holding that name (a
 * domain's home repeats the same few dozen names: `name`, `domid`, `ring-ref`, `port`...).
 */
export function internName(name: string): string {
  const known = names.get(name);
  if (known !== undefined) return known;
  if (names.size >= NAMES_MAX) names.clear();
  const flat = flatten(name);
  names.set(flat, flat);
  return flat;
}
