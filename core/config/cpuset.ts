/** CPU lists as xl takes them for `cpus=`: "all", "0-3,5,^1", or one such string per vCPU. */
import type { SpecResult } from './spec-result.js';

/** A set of physical CPUs: every one, or these (sorted, no repeats). */
export type CpuSet = 'all' | readonly number[];

/** Hard affinity: `perVcpu[i]` for vCPU i when given, `all` for the others. */
export interface CpuAffinity {
  all: CpuSet;
  perVcpu: CpuSet[];
}

/** Parses one CPU list. Items are added left to right; `^N` and `^N-M` remove. */
export function parseCpuSet(text: string): SpecResult<CpuSet> {
  const t = text.trim();
  if (t === 'all') return { value: 'all', errors: [], warnings: [] };
  if (/^nodes?:/.test(t)) return { errors: [`NUMA node lists ("${t}") are not supported: the simulated host has one node; list CPUs instead`], warnings: [] };
  const set = new Set<number>();
  const errors: string[] = [];
  for (const raw of t.split(',')) {
    const item = raw.trim();
    const m = /^(\^?)(\d+)(?:-(\d+))?$/.exec(item);
    if (item === 'all') {
      errors.push('"all" cannot be combined with other CPUs');
      continue;
    }
    if (!m) {
      errors.push(`"${item}" is not a CPU, a range like 0-3, or an exclusion like ^1`);
      continue;
    }
    const from = Number(m[2]);
    const to = m[3] === undefined ? from : Number(m[3]);
    if (to < from) {
      errors.push(`range "${item}" goes backwards`);
      continue;
    }
    if (to > 4095) {
      errors.push(`CPU ${to} is out of range`);
      continue;
    }
    for (let c = from; c <= to; c++) {
      if (m[1] === '^') set.delete(c);
      else set.add(c);
    }
  }
  if (errors.length > 0) return { errors, warnings: [] };
  if (set.size === 0) return { errors: [`"${t}" leaves no CPU`], warnings: [] };
  return { value: [...set].sort((a, b) => a - b), errors: [], warnings: [] };
}
