/** sched_op (29), vcpu_op (24), set_timer_op (15) and PV time: the scheduling-ops subsystem (xen/common/sched/core.c). */
import type { VcpuRequest } from '../api/domain.js';
import { GuestError } from '../api/errors.js';
import type { HypercallArgs, HypercallContext } from '../api/hypercall.js';
import type { Subsystem, SubsystemFactory } from '../host/subsystem.js';
import { NR_DOMAIN_WATCHDOG_TIMERS, SCHEDOP, SCHED_POLL_MAX_PORTS, SchedPinOverride, SchedPoll, SchedRemoteShutdown, SchedWatchdog } from '../public/sched.js';
import { VcpuInfo } from '../public/shared-info.js';
import { CpuMask } from '../api/scheduler.js';
import { CALIBRATION_NS, SchedCore, shutdownReasonOf, type SchedOpsOptions } from './sched-core.js';
import { pcpuId } from '../public/types.js';
import { SchedOps } from './sched-state.js';
import { vcpuOp } from './vcpu-op.js';
import { ownVcpu, type VcpuImpl } from './vcpu.js';
import { copyStructFromGuest, u64Field } from './guest-struct.js';

export { SchedOps, type SchedOpsOptions };

const BLOCK: VcpuRequest = Object.freeze({ op: 'block' });
const YIELD: VcpuRequest = Object.freeze({ op: 'yield' });
const EMPTY = new Uint8Array(0);

// --- helpers -------------------------------------------------------------------------------------

function callerOf(core: SchedCore, ctx: HypercallContext): VcpuImpl {
  const v = ownVcpu(ctx) ?? core.vcpu(ctx.domid, ctx.vcpuId);
  if (v === undefined) throw new GuestError('ESRCH', `no vcpu${ctx.vcpuId} in dom${ctx.domid}`, { domid: ctx.domid });
  return v;
}

/** The caller's vcpu_info (through its own vCPU's sched state when it is a guest's own call: every idle tick blocks). */
function callerVcpuInfo(core: SchedCore, ctx: HypercallContext) {
  const own = ownVcpu(ctx);
  return (own !== undefined ? core.sharedOf(own) : core.ctx.sharedInfoOf(ctx.domid))?.vcpuInfo(ctx.vcpuId);
}

/** Xen's local_events_need_delivery for the caller: upcall pending and not masked. */
function eventsNeedDelivery(core: SchedCore, ctx: HypercallContext): boolean {
  const loc = callerVcpuInfo(core, ctx);
  if (loc === undefined) return false;
  return loc.view.getUint8(loc.offset + VcpuInfo.evtchnUpcallPending) !== 0 && loc.view.getUint8(loc.offset + VcpuInfo.evtchnUpcallMask) === 0;
}

// --- operations ----------------------------------------------------------------------------------

/** SCHEDOP_block: re-enable event delivery (clear upcall_mask), then block unless an event is pending. */
function block(core: SchedCore, ctx: HypercallContext): number {
  const loc = callerVcpuInfo(core, ctx);
  if (loc !== undefined) {
    loc.view.setUint8(loc.offset + VcpuInfo.evtchnUpcallMask, 0);
    if (loc.view.getUint8(loc.offset + VcpuInfo.evtchnUpcallPending) !== 0) return 0;
  }
  ctx.deferRequest?.(BLOCK);
  return 0;
}

/** SCHEDOP_poll (Xen's do_poll): returns 0 at once when an event or a polled port is pending, else blocks until one is or `timeout` passes. */
function poll(core: SchedCore, ctx: HypercallContext, arg: number): number {
  const struct = copyStructFromGuest(ctx, arg, SchedPoll.size);
  const portsAddr = u64Field(struct, SchedPoll.ports);
  const nrPorts = struct.getUint32(SchedPoll.nrPorts, true);
  const timeout = u64Field(struct, SchedPoll.timeout);
  if (nrPorts > SCHED_POLL_MAX_PORTS) throw new GuestError('EINVAL', `poll of ${nrPorts} ports (at most ${SCHED_POLL_MAX_PORTS})`, { domid: ctx.domid });
  const evtchn = core.eventChannels();
  if (evtchn === undefined) throw new GuestError('ENOSYS', 'SCHEDOP_poll needs the event-channel subsystem', { domid: ctx.domid });
  const raw = nrPorts === 0 ? EMPTY : ctx.guest.read(portsAddr, nrPorts * 4);
  const max = core.maxPorts(ctx.domid);
  const ports: number[] = [];
  for (let i = 0; i < raw.length; i += 4) {
    const port = (raw[i]! | (raw[i + 1]! << 8) | (raw[i + 2]! << 16) | (raw[i + 3]! << 24)) >>> 0;
    if (port >= max) throw new GuestError('EINVAL', `poll: port ${port} is past the domain's ${max}`, { domid: ctx.domid });
    ports.push(port);
  }
  if (eventsNeedDelivery(core, ctx)) return 0;
  for (const port of ports) if (evtchn.isPending(ctx.domid, port)) return 0;
  const v = callerOf(core, ctx);
  const s = core.vcpuState(v);
  core.endPoll(s);
  s.pollPorts = ports;
  s.pollCancel = evtchn.pollPorts?.(ctx.domid, ctx.vcpuId, ports);
  // A u64 past 2^63 reads negative: no timeout a guest could wait for.
  ctx.deferRequest?.({ op: 'poll', timeout: timeout < 0 ? 0 : timeout });
  return 0;
}

function remoteShutdown(core: SchedCore, ctx: HypercallContext, arg: number): number {
  const target = ctx.guest.readU16(arg + SchedRemoteShutdown.domainId);
  const reason = ctx.guest.readU32(arg + SchedRemoteShutdown.reason);
  if (core.ctx.domains.get(target) === undefined) throw new GuestError('ESRCH', `remote_shutdown: no domain ${target}`, { domid: ctx.domid });
  if (!ctx.privileged) throw new GuestError('EPERM', `remote_shutdown of dom${target}: dom${ctx.domid} is not privileged`, { domid: ctx.domid });
  core.shutdown(target, reason);
  return 0;
}

function shutdownCode(core: SchedCore, ctx: HypercallContext, arg: number): number {
  const reason = ctx.guest.readU32(arg);
  shutdownReasonOf(reason, ctx.domid);
  const s = core.domain(ctx.domid);
  s.shutdownCode ??= reason;
  return 0;
}

/** SCHEDOP_pin_override: the hardware domain pins the caller to one pCPU for a while; a negative pCPU undoes it. */
function pinOverride(core: SchedCore, ctx: HypercallContext, arg: number): number {
  if (!ctx.privileged) throw new GuestError('EPERM', 'pin_override is for the hardware domain', { domid: ctx.domid });
  const pcpu = ctx.guest.readU32(arg + SchedPinOverride.pcpu) | 0;
  const v = callerOf(core, ctx);
  const s = core.vcpuState(v);
  if (pcpu < 0) {
    if (s.savedAffinity !== undefined) v.setHardAffinity(s.savedAffinity);
    s.savedAffinity = undefined;
    return 0;
  }
  if (!core.ctx.pool.cpus.has(pcpu)) throw new GuestError('EINVAL', `pin_override: no pCPU ${pcpu} in the pool`, { domid: ctx.domid });
  s.savedAffinity ??= v.hardAffinity;
  v.setHardAffinity(CpuMask.of(pcpu));
  return 0;
}

/** The sched_op handler: `args` = (cmd, arg[, start_info mfn for a PV suspend]). */
export function schedOp(core: SchedCore, ctx: HypercallContext, args: HypercallArgs): number {
  const cmd = args[0] ?? -1;
  const arg = args[1] ?? 0;
  switch (cmd) {
    case SCHEDOP.yield:
      ctx.deferRequest?.(YIELD);
      return 0;
    case SCHEDOP.block:
      return block(core, ctx);
    case SCHEDOP.shutdown:
      // SHUTDOWN_suspend returns 0 ("resumed in a new domain") when the toolstack lets the domain run again.
      core.shutdown(ctx.domid, ctx.guest.readU32(arg));
      return 0;
    case SCHEDOP.poll:
      return poll(core, ctx, arg);
    case SCHEDOP.remote_shutdown:
      return remoteShutdown(core, ctx, arg);
    case SCHEDOP.shutdown_code:
      return shutdownCode(core, ctx, arg);
    case SCHEDOP.watchdog: {
      const id = ctx.guest.readU32(arg + SchedWatchdog.id);
      const timeout = ctx.guest.readU32(arg + SchedWatchdog.timeout);
      return core.watchdog(ctx.domid, id, timeout, core.nowFor(ctx.now), NR_DOMAIN_WATCHDOG_TIMERS);
    }
    case SCHEDOP.pin_override:
      return pinOverride(core, ctx, arg);
    default:
      throw new GuestError('ENOSYS', `unknown sched_op ${cmd}`, { domid: ctx.domid });
  }
}

/** set_timer_op: the caller's singleshot timer at an absolute time; 0 cancels it. */
export function setTimerOp(core: SchedCore, ctx: HypercallContext, args: HypercallArgs): number {
  core.setTimerOp(callerOf(core, ctx), args[0] ?? 0, core.nowFor(ctx.now));
  return 0;
}

// --- the subsystem -------------------------------------------------------------------------------

/** Makes the scheduling-ops subsystem with options (a fixed boot epoch for the wallclock, say). */
export function createSchedOpsWith(options: SchedOpsOptions = {}): SubsystemFactory {
  return (ctx): Subsystem => {
    const core = new SchedCore(ctx, options);
    const undo = [
      ctx.hypercalls.register('sched_op', (c, args) => schedOp(core, c, args)),
      ctx.hypercalls.register('vcpu_op', (c, args) => vcpuOp(core, c, args)),
      ctx.hypercalls.register('set_timer_op', (c, args) => setTimerOp(core, c, args)),
      ctx.pool.onRunstateChange(core.runstateHook),
    ];
    const onCreated = (d: { domid: number }): void => core.domainCreated(d.domid);
    const onDying = (d: { domid: number }): void => core.domainDying(d.domid);
    const onDestroyed = (domid: number): void => core.domainDestroyed(domid);
    ctx.domains.events.on('created', onCreated);
    ctx.domains.events.on('dying', onDying);
    ctx.domains.events.on('destroyed', onDestroyed);
    for (const d of ctx.domains.list()) core.domainCreated(d.domid);
    // Time calibration every CALIBRATION_NS (Xen's time_calibration timer), on the boot CPU.
    const calibration = ctx.timers.initTimer((now, t) => {
      core.calibrate(now);
      t.set(now + CALIBRATION_NS);
    }, pcpuId(0));
    calibration.set(Math.floor(ctx.engine.now / CALIBRATION_NS + 1) * CALIBRATION_NS);
    ctx.container.registerInstance(SchedOps, core);
    return {
      name: 'sched-op',
      dump: () => core.dump(),
      dispose: () => {
        for (const u of undo) u();
        calibration.kill();
        ctx.domains.events.off('created', onCreated);
        ctx.domains.events.off('dying', onDying);
        ctx.domains.events.off('destroyed', onDestroyed);
        core.disposeAll();
      },
    };
  };
}

/** The scheduling-ops subsystem with the default boot epoch (2026-01-01T00:00:00Z). */
export const createSchedOps: SubsystemFactory = createSchedOpsWith();
