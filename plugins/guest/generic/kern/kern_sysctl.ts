/**
 * sysctl(3): a flat table of dotted names (`kern.hz`, `hw.balloon.target`), each read by a getter and,
 * when writable, set by a setter that validates the text it gets. Drivers add their own at attach, so
 * a kernel without a driver has none of its names.
 */

/** One sysctl node. */
export interface SysctlOid {
  readonly name: string;
  readonly description: string;
  get(): string | number;
  /** Absent for read-only nodes; throws an Error with a clear message on a bad value. */
  set?(value: string): void;
}

export class SysctlTree {
  private readonly oids = new Map<string, SysctlOid>();

  /** Adds a node; a name already taken is an error. */
  add(oid: SysctlOid): void {
    if (this.oids.has(oid.name)) throw new Error(`sysctl: ${oid.name} is already registered`);
    this.oids.set(oid.name, oid);
  }

  /** A read-only node whose value is `get()`. */
  addRo(name: string, description: string, get: () => string | number): void {
    this.add({ name, description, get });
  }

  get(name: string): SysctlOid | undefined {
    return this.oids.get(name);
  }

  /** `name` itself, or every node under `name.` (all of them for ''), sorted. */
  match(name: string): SysctlOid[] {
    const exact = this.oids.get(name);
    if (exact !== undefined) return [exact];
    return [...this.oids.values()].filter((o) => name === '' || o.name.startsWith(`${name}.`)).sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** Parses a non-negative whole number for a setter; `what` names the node in the error. */
export function parseCount(what: string, value: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) > max) throw new Error(`${what}: "${value}" is not a whole number 0..${max}`);
  return Number(value);
}
