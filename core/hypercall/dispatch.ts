/** The hypercall dispatcher: table lookup, privilege check, handler call, errno mapping, cost and trace. */
import type { HypercallArgs, HypercallContext, HypercallDispatcher } from '../api/hypercall.js';
import { GuestError } from '../api/errors.js';
import type { Logger } from '../api/log.js';
import type { Engine } from '../engine/engine.js';
import { TraceKind } from '../engine/trace.js';
import { XenErrno } from '../public/errno.js';
import { NR_HYPERCALLS, hypercallName } from '../public/xen.js';
import { CELL_PRIVILEGED, CELL_UNAVAILABLE, modeIndex, type HypercallTableImpl } from './table.js';

const ENOSYS = -XenErrno.ENOSYS;
const EPERM = -XenErrno.EPERM;
const EFAULT = -XenErrno.EFAULT;

/**
 * Xen's hypercall entry: every exit path returns a number (≥ 0 or −errno); no exception escapes.
 * The `hypercall` cost is charged to the caller before the handler's own work.
 */
export class HypercallDispatcherImpl implements HypercallDispatcher {
  private readonly cells: Uint8Array;
  private readonly handlers: HypercallTableImpl['handlers'];
  private readonly subOp: Uint8Array;
  private readonly entryCycles: number;

  constructor(
    table: HypercallTableImpl,
    private readonly engine: Engine,
    private readonly log: Logger,
  ) {
    this.cells = table.cells;
    this.handlers = table.handlers;
    this.subOp = table.subOp;
    this.entryCycles = engine.cost.hypercall;
  }

  dispatch(ctx: HypercallContext, nr: number, args: HypercallArgs): number {
    ctx.charge(this.entryCycles);
    const result = this.route(ctx, nr, args);
    const sub = nr >= 0 && nr < NR_HYPERCALLS && this.subOp[nr] === 1 ? (args[0] ?? 0) : 0;
    this.engine.trace.record(ctx.now, TraceKind.Hypercall, ctx.domid, ctx.vcpuId, nr, sub, result);
    return result;
  }

  private route(ctx: HypercallContext, nr: number, args: HypercallArgs): number {
    if (!(nr >= 0 && nr < NR_HYPERCALLS) || (nr | 0) !== nr) return ENOSYS;
    const cell = this.cells[modeIndex(ctx.mode) * NR_HYPERCALLS + nr];
    if (cell === undefined || cell === CELL_UNAVAILABLE) return ENOSYS;
    if (cell === CELL_PRIVILEGED && !ctx.privileged) return EPERM;
    const handler = this.handlers[nr];
    if (handler === undefined) return ENOSYS;
    try {
      const result = handler(ctx, args);
      if (Number.isInteger(result)) return result;
      this.log.error(`dom${ctx.domid} vcpu${ctx.vcpuId} ${hypercallName(nr)}: handler returned ${String(result)}, not an integer`);
      return EFAULT;
    } catch (error) {
      if (error instanceof GuestError) return -error.errno;
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.log.error(`dom${ctx.domid} vcpu${ctx.vcpuId} ${hypercallName(nr)}: handler threw: ${message}`);
      return EFAULT;
    }
  }
}
