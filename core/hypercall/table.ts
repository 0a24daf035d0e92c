/** The hypercall table: decisions per hypercall × mode in one flat array, and one handler slot per hypercall. */
import { GUEST_MODES, type GuestMode } from '../api/domain.js';
import type { HypercallColumn, HypercallDecision, HypercallHandler, HypercallTable } from '../api/hypercall.js';
import { XenoError } from '../api/errors.js';
import { Hypercall, NR_HYPERCALLS, hypercallName, type HypercallName } from '../public/xen.js';
import { DEFAULT_HYPERCALL_MATRIX } from './defaults.js';

/** Cell codes in {@link HypercallTableImpl.cells}. */
export const CELL_UNAVAILABLE = 0;
export const CELL_HANDLED = 1;
export const CELL_PRIVILEGED = 2;
const CODE: Record<HypercallDecision, number> = { unavailable: CELL_UNAVAILABLE, handled: CELL_HANDLED, privileged: CELL_PRIVILEGED };
const DECISION: readonly HypercallDecision[] = ['unavailable', 'handled', 'privileged'];

/** Column index of each mode in the flat cell array. */
export const MODE_INDEX: Readonly<Record<GuestMode, number>> = { pv: 0, hvm: 1, pvhvm: 2, pvh: 3 };

/** {@link MODE_INDEX} by comparisons: a keyed load with a varying string key is a megamorphic lookup, and every hypercall asks. */
export function modeIndex(mode: GuestMode): number {
  return mode === 'pv' ? 0 : mode === 'hvm' ? 1 : mode === 'pvhvm' ? 2 : 3;
}

function resolveNr(hypercall: HypercallName | number): number {
  const nr = typeof hypercall === 'number' ? hypercall : Hypercall[hypercall];
  if (nr === undefined || hypercallName(nr) === undefined) throw new XenoError('hypercall', `unknown hypercall ${String(hypercall)}`);
  return nr;
}

function checkMode(mode: GuestMode): number {
  const index = MODE_INDEX[mode];
  if (index === undefined) throw new XenoError('hypercall', `unknown guest mode "${String(mode)}" (known: ${GUEST_MODES.join(', ')})`);
  return index;
}

/**
 * The table, filled from {@link DEFAULT_HYPERCALL_MATRIX}. `cells[mode * NR_HYPERCALLS + nr]` and
 * `handlers[nr]` are read directly by the dispatcher on its fast path.
 */
export class HypercallTableImpl implements HypercallTable {
  readonly cells = new Uint8Array(GUEST_MODES.length * NR_HYPERCALLS);
  readonly handlers: (HypercallHandler | undefined)[] = new Array<HypercallHandler | undefined>(NR_HYPERCALLS).fill(undefined);
  /** Whether argument 0 of hypercall `nr` is a sub-op (traced as such). */
  readonly subOp = new Uint8Array(NR_HYPERCALLS);

  constructor() {
    for (const [name, row] of Object.entries(DEFAULT_HYPERCALL_MATRIX)) {
      const nr = Hypercall[name as HypercallName];
      for (const mode of GUEST_MODES) this.cells[MODE_INDEX[mode] * NR_HYPERCALLS + nr] = CODE[row[mode]];
      this.subOp[nr] = row.subOp ? 1 : 0;
    }
  }

  decision(mode: GuestMode, nr: number): HypercallDecision {
    const m = checkMode(mode);
    if (!Number.isInteger(nr) || nr < 0 || nr >= NR_HYPERCALLS) return 'unavailable';
    return DECISION[this.cells[m * NR_HYPERCALLS + nr]!]!;
  }

  setDecision(mode: GuestMode, hypercall: HypercallName | number, decision: HypercallDecision): void {
    const m = checkMode(mode);
    const code = CODE[decision];
    if (code === undefined) throw new XenoError('hypercall', `unknown decision "${String(decision)}" (known: ${DECISION.join(', ')})`);
    this.cells[m * NR_HYPERCALLS + resolveNr(hypercall)] = code;
  }

  setColumn(mode: GuestMode, column: HypercallColumn): () => void {
    const m = checkMode(mode);
    const saved: [number, number][] = [];
    const entries = Object.entries(column) as [HypercallName, HypercallDecision][];
    for (const [name, decision] of entries) {
      resolveNr(name);
      if (CODE[decision] === undefined) throw new XenoError('hypercall', `${mode} column: unknown decision "${String(decision)}" for ${name}`);
    }
    for (const [name, decision] of entries) {
      const index = m * NR_HYPERCALLS + Hypercall[name];
      saved.push([index, this.cells[index]!]);
      this.cells[index] = CODE[decision];
    }
    return () => {
      for (const [index, code] of saved.reverse()) this.cells[index] = code;
    };
  }

  register(hypercall: HypercallName | number, handler: HypercallHandler): () => void {
    const nr = resolveNr(hypercall);
    if (this.handlers[nr] !== undefined) throw new XenoError('hypercall', `${hypercallName(nr)} (${nr}) already has a handler`);
    this.handlers[nr] = handler;
    return () => {
      if (this.handlers[nr] === handler) this.handlers[nr] = undefined;
    };
  }

  handler(nr: number): HypercallHandler | undefined {
    return Number.isInteger(nr) && nr >= 0 && nr < NR_HYPERCALLS ? this.handlers[nr] : undefined;
  }

  matrix(): { nr: number; name: HypercallName; decisions: Record<GuestMode, HypercallDecision>; handled: boolean }[] {
    return (Object.entries(Hypercall) as [HypercallName, number][])
      .sort((a, b) => a[1] - b[1])
      .map(([name, nr]) => {
        const decisions = {} as Record<GuestMode, HypercallDecision>;
        for (const mode of GUEST_MODES) decisions[mode] = DECISION[this.cells[MODE_INDEX[mode] * NR_HYPERCALLS + nr]!]!;
        return { nr, name, decisions, handled: this.handlers[nr] !== undefined };
      });
  }

  /** The matrix as a Markdown table (docs, `xeno hypercalls`). */
  dump(): string {
    const lines = [`| # | hypercall | ${GUEST_MODES.join(' | ')} | handler |`, `|---|---|${GUEST_MODES.map(() => '---|').join('')}---|`];
    for (const r of this.matrix()) lines.push(`| ${r.nr} | ${r.name} | ${GUEST_MODES.map((m) => r.decisions[m]).join(' | ')} | ${r.handled ? 'yes' : '-'} |`);
    return lines.join('\n');
  }
}
