/** multicall (hypercall 13): a list of hypercalls run in order through the dispatcher (xen/common/multicall.c). */
import type { HypercallArgs, HypercallContext, HypercallDispatcher, HypercallHandler } from '../api/hypercall.js';
import type { GuestAccess } from '../api/memory.js';
import { GuestError } from '../api/errors.js';
import { MulticallEntry } from '../public/platform.js';
import { Hypercall } from '../public/xen.js';

/** Bytes probed per read when checking that a whole list is readable. */
const PROBE_CHUNK = 64 * 1024;

/** Reads `length` bytes at `addr` in bounded chunks so a huge count faults instead of allocating. Throws EFAULT. */
function probe(guest: GuestAccess, addr: number, length: number): void {
  for (let done = 0; done < length; done += PROBE_CHUNK) guest.read(addr + done, Math.min(PROBE_CHUNK, length - done));
}

/** A u64 field as a number, as `GuestAccess.readU64` reads it (bit 63 set → negative). */
function u64(view: DataView, at: number): number {
  return view.getInt32(at + 4, true) * 2 ** 32 + view.getUint32(at, true);
}

/**
 * `do_multicall(call_list, nr_calls)`. The whole list must be readable before anything runs (else
 * EFAULT); then each entry is read, dispatched with the caller's context, and its `result` written
 * back. A failing entry does not stop later ones; a multicall inside a multicall fails with EINVAL
 * (Xen's "multicall reentry is disallowed"); a PV `iret` entry ends the list and its result is returned.
 * Returns 0, or EFAULT when an entry cannot be read or its result cannot be written (later entries do not run).
 */
export function makeMulticall(dispatcher: () => HypercallDispatcher | undefined): HypercallHandler {
  const inMulticall = new WeakSet<HypercallContext>();
  return (ctx: HypercallContext, args: HypercallArgs): number => {
    const list = args[0] ?? 0;
    const count = (args[1] ?? 0) >>> 0;
    if (inMulticall.has(ctx)) throw new GuestError('EINVAL', 'multicall: reentry is disallowed', { domid: ctx.domid });
    const dispatch = dispatcher();
    if (!dispatch) throw new GuestError('ENOSYS', 'multicall: no hypercall dispatcher', { domid: ctx.domid });
    probe(ctx.guest, list, count * MulticallEntry.size);
    inMulticall.add(ctx);
    try {
      const callArgs = new Array<number>(MulticallEntry.nrArgs).fill(0);
      for (let i = 0; i < count; i++) {
        const at = list + i * MulticallEntry.size;
        const raw = ctx.guest.read(at, MulticallEntry.size);
        const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        const op = u64(view, MulticallEntry.op);
        for (let a = 0; a < MulticallEntry.nrArgs; a++) callArgs[a] = u64(view, MulticallEntry.args + 8 * a);
        const result = dispatch.dispatch(ctx, op, callArgs);
        ctx.guest.writeU64(at + MulticallEntry.result, result);
        if (op === Hypercall.iret && ctx.mode === 'pv') return result;
      }
      return 0;
    } finally {
      inMulticall.delete(ctx);
    }
  };
}
