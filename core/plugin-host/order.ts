/** Start order: plugins sorted so that each starts after its dependencies, ties broken by name. */

/** A plugin as the ordering sees it. Dependencies outside the set are ignored (checked elsewhere). */
export interface DependencyNode {
  readonly name: string;
  readonly dependencies: readonly string[];
}

/** The start order, or the cycle that prevents one (`[a, b, a]`). */
export type StartOrder = { ok: true; order: string[] } | { ok: false; cycle: string[] };

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Topological order of `nodes` (Kahn's algorithm, always taking the smallest ready name). */
export function startOrder(nodes: readonly DependencyNode[]): StartOrder {
  const deps = new Map(nodes.map((n) => [n.name, [...new Set(n.dependencies)]]));
  for (const [name, list] of deps) deps.set(name, list.filter((d) => deps.has(d)));
  const waiting = new Map([...deps].map(([name, list]) => [name, list.length]));
  const dependants = new Map<string, string[]>();
  for (const [name, list] of deps) for (const d of list) dependants.set(d, [...(dependants.get(d) ?? []), name]);

  const ready = [...waiting].filter(([, n]) => n === 0).map(([name]) => name);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort(byName);
    const next = ready.shift() as string;
    order.push(next);
    for (const d of dependants.get(next) ?? []) {
      const left = (waiting.get(d) ?? 0) - 1;
      waiting.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  if (order.length === deps.size) return { ok: true, order };
  return { ok: false, cycle: findCycle(deps, new Set(order)) };
}

/** A cycle among the nodes Kahn's algorithm could not place, starting from the smallest name. */
function findCycle(deps: ReadonlyMap<string, string[]>, placed: ReadonlySet<string>): string[] {
  const stuck = [...deps.keys()].filter((n) => !placed.has(n)).sort(byName);
  const path: string[] = [];
  let current = stuck[0] as string;
  while (!path.includes(current)) {
    path.push(current);
    // Every stuck node has a stuck dependency, otherwise it would have been placed.
    current = (deps.get(current) ?? []).filter((d) => !placed.has(d)).sort(byName)[0] as string;
  }
  return [...path.slice(path.indexOf(current)), current];
}
