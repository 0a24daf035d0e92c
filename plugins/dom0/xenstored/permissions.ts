/** xenstore node permissions: perm strings (`n0`, `r5`, `w1`, `b2`), and C xenstored's perm_for_conn. */

/** Access bits as in xs_lib.h. */
export const PERM_READ = 1;
export const PERM_WRITE = 2;
export const PERM_OWNER = 8;
/** Everything: what privileged callers and owners get. */
export const PERM_ALL = PERM_READ | PERM_WRITE | PERM_OWNER;

/** One entry: a domain and its access (PERM_READ | PERM_WRITE subset). Entry 0 is owner + default. */
export interface XsPerm {
  readonly domid: number;
  readonly access: number;
}

const LETTER_ACCESS: Record<string, number> = { n: 0, r: PERM_READ, w: PERM_WRITE, b: PERM_READ | PERM_WRITE };

/**
 * Parses one perm string as C's xs_strings_to_perms does: a letter (n/r/w/b), then a number in
 * strtol base 0 (decimal, 0x hex, 0 octal) that must fill the rest. Returns null if invalid (EINVAL).
 */
export function parsePerm(s: string): XsPerm | null {
  const access = LETTER_ACCESS[s.charAt(0)];
  if (access === undefined) return null;
  const num = s.slice(1);
  let m: RegExpExecArray | null;
  let domid: number;
  if ((m = /^[ \t]*([+-]?)0[xX]([0-9a-fA-F]+)$/.exec(num))) domid = Number.parseInt(m[2]!, 16) * (m[1] === '-' ? -1 : 1);
  else if ((m = /^[ \t]*([+-]?)(0[0-7]*)$/.exec(num))) domid = Number.parseInt(m[2]!, 8) * (m[1] === '-' ? -1 : 1);
  else if ((m = /^[ \t]*([+-]?[1-9]\d*)$/.exec(num))) domid = Number.parseInt(m[1]!, 10);
  else return null;
  // C stores it in an unsigned int.
  return { domid: domid >>> 0, access };
}

/** Prints one entry as C's xs_perm_to_string: letter + decimal domid. */
export function formatPerm(p: XsPerm): string {
  const letter = p.access === (PERM_READ | PERM_WRITE) ? 'b' : p.access === PERM_READ ? 'r' : p.access === PERM_WRITE ? 'w' : 'n';
  return `${letter}${p.domid}`;
}

/** Distinct perm lists kept by {@link parsePerms}; past this many the cache starts over (bounded memory). */
const PERMS_CACHE_MAX = 4096;
const permsCache = new Map<string, readonly XsPerm[]>();

/**
 * Parses a whole list; null if any entry is invalid or the list is empty. Equal lists come back as one
 * shared array (never modify it): every node of a domain's home carries one of a few lists (`n0 r5`,
 * `n5`), and a list costs more than the node's value.
 */
export function parsePerms(strings: readonly string[]): readonly XsPerm[] | null {
  if (strings.length === 0) return null;
  const out: XsPerm[] = new Array<XsPerm>(strings.length);
  let key = '';
  for (let i = 0; i < strings.length; i++) {
    const p = parsePerm(strings[i]!);
    if (!p) return null;
    out[i] = p;
    key += `${p.access}:${p.domid},`;
  }
  const known = permsCache.get(key);
  if (known !== undefined) return known;
  if (permsCache.size >= PERMS_CACHE_MAX) permsCache.clear();
  permsCache.set(key, out);
  return out;
}

/** The GET_PERMS payload: every entry NUL-terminated. */
export function formatPerms(perms: readonly XsPerm[]): string {
  let s = '';
  for (const p of perms) s += `${formatPerm(p)}\0`;
  return s;
}

/** Who is asking: its domid, whether it is privileged (Dom0 / socket), and its SET_TARGET target. */
export interface XsCaller {
  readonly domid: number;
  readonly privileged: boolean;
  readonly target: number | undefined;
}

/**
 * C xenstored's perm_for_conn: privileged callers and the owner (or the owner being the caller's
 * target) get all; else the first later entry naming the caller or its target; else entry 0's access.
 */
export function permFor(caller: XsCaller, perms: readonly XsPerm[]): number {
  const owner = perms[0];
  if (caller.privileged || !owner || owner.domid === caller.domid || (caller.target !== undefined && owner.domid === caller.target)) {
    return PERM_ALL;
  }
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i]!;
    if (p.domid === caller.domid || (caller.target !== undefined && p.domid === caller.target)) return p.access;
  }
  return owner.access;
}
