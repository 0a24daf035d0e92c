/** HYPERVISOR_event_channel_op (hypercall 32): decodes the op struct from the caller's memory, runs the operation, writes the OUT fields back. */
import type { EvtchnPortStatus } from '../api/event-channel.js';
import type { HypercallContext, HypercallHandler } from '../api/hypercall.js';
import type { GuestAccess } from '../api/memory.js';
import { GuestError } from '../api/errors.js';
import {
  EVTCHNOP,
  EVTCHNSTAT,
  EvtchnAllocUnbound,
  EvtchnBindInterdomain,
  EvtchnBindIpi,
  EvtchnBindPirq,
  EvtchnBindVcpu,
  EvtchnBindVirq,
  EvtchnClose,
  EvtchnExpandArray,
  EvtchnInitControl,
  EvtchnReset,
  EvtchnSend,
  EvtchnSetPriority,
  EvtchnStatus,
  EvtchnUnmask,
} from '../public/event-channel.js';
import type { EvtchnCore } from './operations.js';

/** Writes `EVTCHNOP_status`'s OUT fields: status, vcpu and the union member of that status. */
function encodeStatus(g: GuestAccess, arg: number, s: EvtchnPortStatus): void {
  g.writeU32(arg + EvtchnStatus.status, EVTCHNSTAT[s.status]);
  g.writeU32(arg + EvtchnStatus.vcpu, s.vcpu);
  if (s.status === 'unbound') g.writeU16(arg + EvtchnStatus.unboundDom, s.remoteDom);
  else if (s.status === 'interdomain') {
    g.writeU16(arg + EvtchnStatus.interdomainDom, s.remoteDom);
    g.writeU32(arg + EvtchnStatus.interdomainPort, s.remotePort);
  } else if (s.status === 'pirq') g.writeU32(arg + EvtchnStatus.pirq, s.pirq);
  else if (s.status === 'virq') g.writeU32(arg + EvtchnStatus.virq, s.virq);
}

/** A u64 frame number as a number; one past 2^53 reads as -1, which no mapping accepts. */
function readFrame(op: DataView, at: number): number {
  const value = op.getBigUint64(at, true);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : -1;
}

/** copy_from_guest of a whole op struct: fails (EFAULT) before anything changes when any byte of it is not readable. */
const SCRATCH = new Uint8Array(64);
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);

function readStruct(g: GuestAccess, arg: number, size: number): DataView {
  g.readInto(arg, SCRATCH.subarray(0, size));
  return SCRATCH_VIEW;
}

/**
 * The handler of hypercall 32, args (cmd, pointer to the op struct). Like Xen, an OUT field that cannot
 * be written gives EFAULT after the operation took place. Unknown commands give ENOSYS.
 */
export function eventChannelOpHandler(core: EvtchnCore): HypercallHandler {
  return (ctx: HypercallContext, args) => {
    const cmd = args[0];
    const arg = args[1] ?? 0;
    const g = ctx.guest;
    // The hot path first, without allocation: EVTCHNOP_send.
    if (cmd === EVTCHNOP.send) {
      core.send(core.table(ctx.domid), g.readU32(arg + EvtchnSend.port), ctx.vcpuId, ctx.now);
      return 0;
    }
    switch (cmd) {
      case EVTCHNOP.bind_interdomain: {
        const op = readStruct(g, arg, EvtchnBindInterdomain.size);
        const port = core.bindInterdomain(core.table(ctx.domid), op.getUint16(EvtchnBindInterdomain.remoteDom, true), op.getUint32(EvtchnBindInterdomain.remotePort, true));
        g.writeU32(arg + EvtchnBindInterdomain.localPort, port);
        return 0;
      }
      case EVTCHNOP.bind_virq: {
        const op = readStruct(g, arg, EvtchnBindVirq.size);
        const port = core.bindVirq(core.table(ctx.domid), op.getUint32(EvtchnBindVirq.virq, true), op.getUint32(EvtchnBindVirq.vcpu, true));
        g.writeU32(arg + EvtchnBindVirq.port, port);
        return 0;
      }
      case EVTCHNOP.bind_pirq: {
        // flags (BIND_PIRQ__WILL_SHARE) matter only once physical IRQs can be shared.
        const op = readStruct(g, arg, EvtchnBindPirq.size);
        g.writeU32(arg + EvtchnBindPirq.port, core.bindPirq(core.table(ctx.domid), op.getUint32(EvtchnBindPirq.pirq, true)));
        return 0;
      }
      case EVTCHNOP.close:
        core.close(core.table(ctx.domid), g.readU32(arg + EvtchnClose.port));
        return 0;
      case EVTCHNOP.status: {
        const op = readStruct(g, arg, EvtchnStatus.size);
        encodeStatus(g, arg, core.status(ctx, op.getUint16(EvtchnStatus.dom, true), op.getUint32(EvtchnStatus.port, true)));
        return 0;
      }
      case EVTCHNOP.alloc_unbound: {
        const op = readStruct(g, arg, EvtchnAllocUnbound.size);
        const port = core.allocUnbound(ctx, op.getUint16(EvtchnAllocUnbound.dom, true), op.getUint16(EvtchnAllocUnbound.remoteDom, true));
        g.writeU32(arg + EvtchnAllocUnbound.port, port);
        return 0;
      }
      case EVTCHNOP.bind_ipi: {
        const op = readStruct(g, arg, EvtchnBindIpi.size);
        g.writeU32(arg + EvtchnBindIpi.port, core.bindIpi(core.table(ctx.domid), op.getUint32(EvtchnBindIpi.vcpu, true)));
        return 0;
      }
      case EVTCHNOP.bind_vcpu: {
        const op = readStruct(g, arg, EvtchnBindVcpu.size);
        core.bindVcpu(core.table(ctx.domid), op.getUint32(EvtchnBindVcpu.port, true), op.getUint32(EvtchnBindVcpu.vcpu, true));
        return 0;
      }
      case EVTCHNOP.unmask:
        core.unmask(core.table(ctx.domid), g.readU32(arg + EvtchnUnmask.port));
        return 0;
      case EVTCHNOP.reset:
        core.reset(ctx, g.readU16(arg + EvtchnReset.dom));
        return 0;
      case EVTCHNOP.init_control: {
        const op = readStruct(g, arg, EvtchnInitControl.size);
        const t = core.table(ctx.domid);
        const linkBits = core.initControl(t, op.getUint32(EvtchnInitControl.vcpu, true), readFrame(op, EvtchnInitControl.controlGfn), op.getUint32(EvtchnInitControl.offset, true));
        g.writeU8(arg + EvtchnInitControl.linkBits, linkBits);
        return 0;
      }
      case EVTCHNOP.expand_array: {
        const op = readStruct(g, arg, EvtchnExpandArray.size);
        core.expandArray(core.table(ctx.domid), readFrame(op, EvtchnExpandArray.arrayGfn));
        return 0;
      }
      case EVTCHNOP.set_priority: {
        const op = readStruct(g, arg, EvtchnSetPriority.size);
        core.setPriority(core.table(ctx.domid), op.getUint32(EvtchnSetPriority.port, true), op.getUint32(EvtchnSetPriority.priority, true));
        return 0;
      }
      default:
        throw new GuestError('ENOSYS', `evtchn: no EVTCHNOP ${String(cmd)}`, { domid: ctx.domid });
    }
  };
}
