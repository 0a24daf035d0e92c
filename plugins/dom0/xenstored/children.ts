/**
 * A node's child names: an immutable, creation-ordered set whose versions share one mutable map
 * (Baker's rerooting trick). Adding or removing a name makes a new version in O(1) however many
 * children there are (`/local/domain` with 10,000 domains); reading an older version, which only a
 * transaction's snapshot or a rolled-back write does, first replays the changes in between.
 * A short list (most nodes have a handful of children, or none; a domain's own directory about a dozen)
 * is instead a plain array each version owns: copying a few names costs less than a map (~700 bytes for
 * a dozen names), and a domain's home has dozens of such nodes.
 */
import { internName } from './paths.js';

/** Names a version may hold as a plain array; the version adding one more gets a shared map. */
const SMALL_MAX = 16;

/** The shared storage: name → creation sequence number (order of the DIRECTORY list). */
interface Data {
  readonly map: Map<string, number>;
  /** A rerooting put a name back with its old number: the map's order may differ from the numbers'. */
  unordered: boolean;
  next: number;
}

/** How a version differs from `to`: it has `name` (at `seq`) that `to` lacks, or lacks one `to` has. */
interface Diff {
  readonly add: boolean;
  readonly name: string;
  readonly seq: number;
  readonly to: Children;
}

/** One version of a child list. Never changes once made. */
export class Children {
  /** The empty list: shared, holding no storage (a version made from it gets its own). */
  static readonly EMPTY = new Children(null, 0, 0);

  /**
   * The names of a short list (in order, never modified), the storage (this version holds it), how this
   * version differs from another, or null for {@link EMPTY}.
   */
  private ref: readonly string[] | Data | Diff | null;
  private cache: readonly string[] | undefined;
  /** The DIRECTORY payload (names NUL-terminated), built on first use. */
  dirBytes: Uint8Array | undefined;

  private constructor(
    ref: readonly string[] | Data | Diff | null,
    /** Number of names. */
    readonly size: number,
    /** C's childlen: every name plus its NUL. */
    readonly byteLen: number,
  ) {
    this.ref = ref;
  }

  /** True when `name` is a child. */
  has(name: string): boolean {
    const ref = this.ref;
    if (ref === null) return false;
    return isList(ref) ? ref.includes(name) : this.data().map.has(name);
  }

  /** A version with `name` appended (this version if it is present). */
  with(name: string): Children {
    const ref = this.ref;
    if (ref === null) return new Children([internName(name)], 1, name.length + 1);
    if (isList(ref)) {
      if (ref.includes(name)) return this;
      const byteLen = this.byteLen + name.length + 1;
      // concat makes an array of the exact size (a spread or push leaves room for 16 more).
      if (ref.length < SMALL_MAX) return new Children(ref.concat(internName(name)), ref.length + 1, byteLen);
      const map = new Map<string, number>(ref.map((n, i) => [n, i]));
      map.set(internName(name), ref.length);
      return new Children({ map, unordered: false, next: ref.length + 1 }, ref.length + 1, byteLen);
    }
    const d = this.data();
    if (d.map.has(name)) return this;
    name = internName(name);
    const seq = d.next++;
    d.map.set(name, seq);
    const v = new Children(d, this.size + 1, this.byteLen + name.length + 1);
    this.ref = { add: false, name, seq, to: v };
    return v;
  }

  /** A version without `name` (this version if it is absent). */
  without(name: string): Children {
    const ref = this.ref;
    if (ref === null) return this;
    if (isList(ref)) {
      const i = ref.indexOf(name);
      if (i < 0) return this;
      if (ref.length === 1) return Children.EMPTY;
      return new Children(ref.slice(0, i).concat(ref.slice(i + 1)), ref.length - 1, this.byteLen - name.length - 1);
    }
    const d = this.data();
    const seq = d.map.get(name);
    if (seq === undefined) return this;
    d.map.delete(name);
    const v = new Children(d, this.size - 1, this.byteLen - name.length - 1);
    this.ref = { add: true, name, seq, to: v };
    return v;
  }

  /** The names in creation order (cached; do not modify). */
  names(): readonly string[] {
    if (this.cache !== undefined) return this.cache;
    if (this.ref === null) return (this.cache = []);
    if (isList(this.ref)) return this.ref;
    const d = this.data();
    if (d.unordered) {
      const sorted = [...d.map].sort((a, b) => a[1] - b[1]);
      d.map.clear();
      for (const [k, s] of sorted) d.map.set(k, s);
      d.unordered = false;
    }
    this.cache = [...d.map.keys()];
    return this.cache;
  }

  /** Makes this version the one holding the storage, undoing the changes made since it (iteratively). */
  private data(): Data {
    const ref = this.ref as Data | Diff;
    if (!('add' in ref)) return ref;
    // Walk to the version holding the data, then apply the diffs back towards this one.
    const chain: Children[] = [];
    let v: Children = this;
    while ('add' in v.ref!) {
      chain.push(v);
      v = (v.ref as Diff).to;
    }
    const data = v.ref as Data;
    for (let i = chain.length - 1; i >= 0; i--) {
      const from = chain[i]!;
      const diff = from.ref as Diff;
      const to = diff.to;
      if (diff.add) {
        data.map.set(diff.name, diff.seq);
        data.unordered = true;
      } else {
        data.map.delete(diff.name);
      }
      to.ref = { add: !diff.add, name: diff.name, seq: diff.seq, to: from };
      from.ref = data;
    }
    return data;
  }
}

function isList(ref: readonly string[] | Data | Diff): ref is readonly string[] {
  return Array.isArray(ref);
}
