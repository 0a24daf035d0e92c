/** vcpu_op (hypercall 24): hotplug, register state, timers, vcpu_info / runstate / time areas (xen/common/domain.c, arch/x86/domain.c). */
import type { HypercallArgs, HypercallContext } from '../api/hypercall.js';
import { GuestError } from '../api/errors.js';
import { P2mType } from '../api/memory.js';
import { PAGE_SIZE } from '../public/memory.js';
import { VcpuInfo, XEN_LEGACY_MAX_VCPUS } from '../public/shared-info.js';
import { guestFrame, machineFrame } from '../public/types.js';
import {
  STIME_DELTA_MAX,
  VCPUOP,
  VCPU_PERIODIC_MIN_NS,
  VCPU_SSHOTTMR_future,
  VcpuGetPhysid,
  VcpuGuestContext,
  VcpuHvmContext,
  VcpuRegisterRunstateMemoryArea,
  VcpuRegisterTimeMemoryArea,
  VcpuRegisterVcpuInfo,
  VcpuSetPeriodicTimer,
  VcpuSetSingleshotTimer,
} from '../public/vcpu.js';
import type { SchedCore } from './sched-core.js';
import { loadHvmContext, loadPvContext } from './vcpu-initialise.js';
import { ownVcpu, type VcpuImpl } from './vcpu.js';
import { copyStructFromGuest, u64Field } from './guest-struct.js';

// --- helpers -------------------------------------------------------------------------------------

function isCaller(ctx: HypercallContext, v: VcpuImpl): boolean {
  return v.vcpuId === ctx.vcpuId;
}

function notCaller(ctx: HypercallContext, what: string): never {
  throw new GuestError('EINVAL', `${what} is only for the calling vCPU (vcpu${ctx.vcpuId})`, { domid: ctx.domid });
}

/** A u64 guest field as a number: exact below 2^53, sign-extended above (negative = huge). */
function readU64(ctx: HypercallContext, addr: number): number {
  return ctx.guest.readU64(addr);
}

/** The frame bytes VCPUOP_register_vcpu_info names: a machine frame the PV domain owns, or a writable RAM gfn of an auto-translated one. */
function vcpuInfoFrame(core: SchedCore, ctx: HypercallContext, frame: number): Uint8Array {
  const { domid } = ctx;
  const bad = (why: string): never => {
    throw new GuestError('EINVAL', `register_vcpu_info: frame 0x${frame.toString(16)} ${why}`, { domid });
  };
  if (!Number.isSafeInteger(frame) || frame < 0) bad('is out of range');
  let mfn = frame;
  if (ctx.mode !== 'pv') {
    const entry = core.ctx.p2mOf(domid)?.lookup(guestFrame(frame));
    if (entry === undefined || entry.type !== P2mType.ram_rw) bad('is not writable RAM of the domain');
    mfn = entry!.mfn;
  }
  if (core.ctx.memory.ownerOf(machineFrame(mfn)) !== domid) bad(`is not a page of dom${domid}`);
  return core.ctx.memory.frameBytes(machineFrame(mfn));
}

// --- operations ----------------------------------------------------------------------------------

function initialise(core: SchedCore, ctx: HypercallContext, v: VcpuImpl, arg: number): number {
  const shared = core.ctx.sharedInfoOf(v.domid);
  if (v.vcpuId >= XEN_LEGACY_MAX_VCPUS && shared?.hasRegisteredVcpuInfo(v.vcpuId) !== true) {
    throw new GuestError('EINVAL', `vcpu${v.vcpuId} has no vcpu_info yet (VCPUOP_register_vcpu_info first)`, { domid: v.domid });
  }
  const pv = ctx.mode === 'pv';
  const bytes = ctx.guest.read(arg, pv ? VcpuGuestContext.size : VcpuHvmContext.size);
  if (core.isInitialised(v)) throw new GuestError('EEXIST', `vcpu${v.vcpuId} is already initialised`, { domid: v.domid });
  const s = core.vcpuState(v);
  if (pv) {
    s.pvExtras = loadPvContext(v.domid, bytes, v.context, (mfn) => core.ctx.memory.ownerOf(machineFrame(mfn)) === v.domid);
  } else {
    const p2m = core.ctx.p2mOf(v.domid);
    loadHvmContext(v.domid, bytes, v.context, (gfn) => p2m?.lookup(guestFrame(gfn)) !== undefined && p2m.typeOf(guestFrame(gfn)) === P2mType.ram_rw);
  }
  s.initialised = true;
  s.startPending = true;
  return 0;
}

/** VCPUOP_up: a vCPU fresh from VCPUOP_initialise starts the domain's program at its RIP ({@link SchedCore.setEntryPoint}). */
function up(core: SchedCore, v: VcpuImpl): number {
  if (!core.isInitialised(v)) throw new GuestError('EINVAL', `vcpu${v.vcpuId} is not initialised`, { domid: v.domid });
  const s = core.vcpuState(v);
  if (s.startPending) {
    s.startPending = false;
    const program = core.domain(v.domid).entryPoints.get(v.context.rip);
    if (program !== undefined) v.setProgram(program);
    else core.ctx.log.warn(`dom${v.domid} vcpu${v.vcpuId}: no guest code at rip 0x${v.context.rip.toString(16)} (SchedOps.setEntryPoint); it comes up idle`);
  }
  if (!v.isUp) {
    core.updateTime(v, core.ctx.engine.now);
    v.up();
  }
  return 0;
}

function setSingleshot(core: SchedCore, ctx: HypercallContext, v: VcpuImpl, arg: number): number {
  if (!isCaller(ctx, v)) notCaller(ctx, 'set_singleshot_timer');
  const struct = copyStructFromGuest(ctx, arg, VcpuSetSingleshotTimer.size);
  const timeout = u64Field(struct, VcpuSetSingleshotTimer.timeoutAbsNs);
  const flags = struct.getUint32(VcpuSetSingleshotTimer.flags, true);
  const now = core.nowFor(ctx.now);
  if (timeout >= 0 && timeout < now) {
    if ((flags & VCPU_SSHOTTMR_future) !== 0) throw new GuestError('ETIME', `singleshot timeout ${timeout} is in the past (now ${Math.floor(now)})`, { domid: ctx.domid });
    core.sendTimerEvent(v);
    return 0;
  }
  // A u64 past 2^63 reads negative: as far in the future as a timer can be.
  core.setSingleshot(v, timeout < 0 ? Number.MAX_SAFE_INTEGER : timeout);
  return 0;
}

function setPeriodic(core: SchedCore, ctx: HypercallContext, v: VcpuImpl, arg: number): number {
  const period = readU64(ctx, arg + VcpuSetPeriodicTimer.periodNs);
  if (period < VCPU_PERIODIC_MIN_NS || period > STIME_DELTA_MAX) {
    throw new GuestError('EINVAL', `periodic timer period ${period} ns is outside ${VCPU_PERIODIC_MIN_NS}..2^62`, { domid: ctx.domid });
  }
  core.setPeriodic(v, period, core.nowFor(ctx.now));
  return 0;
}

function registerVcpuInfo(core: SchedCore, ctx: HypercallContext, v: VcpuImpl, arg: number): number {
  const frame = readU64(ctx, arg + VcpuRegisterVcpuInfo.mfn);
  const offset = ctx.guest.readU32(arg + VcpuRegisterVcpuInfo.offset);
  const shared = core.ctx.sharedInfoOf(v.domid);
  if (shared === undefined) throw new GuestError('EINVAL', `dom${v.domid} has no shared info`, { domid: v.domid });
  if (offset > PAGE_SIZE - VcpuInfo.size) throw new GuestError('EINVAL', `vcpu_info offset ${offset} crosses the page`, { domid: v.domid });
  if (shared.hasRegisteredVcpuInfo(v.vcpuId)) throw new GuestError('EINVAL', `vcpu${v.vcpuId} already registered its vcpu_info`, { domid: v.domid });
  if (!isCaller(ctx, v) && v.isUp) throw new GuestError('EINVAL', `vcpu${v.vcpuId} is up: only it may move its vcpu_info`, { domid: v.domid });
  const bytes = vcpuInfoFrame(core, ctx, frame);
  const fresh = v.vcpuId >= XEN_LEGACY_MAX_VCPUS;
  shared.registerVcpuInfo(v.vcpuId, bytes, offset);
  const loc = shared.vcpuInfo(v.vcpuId);
  if (fresh) loc.view.setUint8(loc.offset + VcpuInfo.evtchnUpcallMask, 1);
  // As Xen: make the guest rescan every event word through its new vcpu_info.
  loc.view.setUint8(loc.offset + VcpuInfo.evtchnUpcallPending, 1);
  loc.view.setBigUint64(loc.offset + VcpuInfo.evtchnPendingSel, 0xffff_ffff_ffff_ffffn, true);
  core.updateTime(v, core.nowFor(ctx.now), true);
  v.kick();
  return 0;
}

function getPhysid(core: SchedCore, ctx: HypercallContext, v: VcpuImpl, arg: number): number {
  // Xen's is_hwdom_pinned_vcpu: the hardware domain, with this vCPU pinned to the pCPU of the same number.
  const mask = v.hardAffinity;
  if (!ctx.privileged || mask.size !== 1 || mask.first() !== (v.vcpuId as number) || !core.ctx.pool.cpus.has(v.vcpuId as never)) {
    throw new GuestError('EINVAL', `vcpu${v.vcpuId} is not a hardware-domain vCPU pinned to cpu${v.vcpuId}`, { domid: ctx.domid });
  }
  const id = BigInt(v.vcpuId);
  ctx.guest.writeU64Big(arg + VcpuGetPhysid.physId, id | (id << 32n));
  return 0;
}

/**
 * The vcpu_op handler: `args` = (cmd, vcpuid, arg). A vcpuid that is not one of the caller's domain's
 * vCPUs is −ENOENT (Xen's domain_vcpu); unknown commands −ENOSYS.
 */
export function vcpuOp(core: SchedCore, ctx: HypercallContext, args: HypercallArgs): number {
  const cmd = args[0] ?? -1;
  const vcpuid = args[1] ?? -1;
  const arg = args[2] ?? 0;
  // Most calls name the caller itself (the timer of every tick): then its context is that vCPU.
  const own = ownVcpu(ctx);
  const v = own !== undefined && own.vcpuId === vcpuid ? own : Number.isInteger(vcpuid) && vcpuid >= 0 ? (core.ctx.domains.lookup(ctx.domid).vcpus[vcpuid] as VcpuImpl | undefined) : undefined;
  if (v === undefined) throw new GuestError('ENOENT', `dom${ctx.domid} has no vcpu ${vcpuid}`, { domid: ctx.domid });
  const s = core.vcpuState(v);
  switch (cmd) {
    case VCPUOP.initialise:
      return initialise(core, ctx, v, arg);
    case VCPUOP.up:
      return up(core, v);
    case VCPUOP.down:
      v.down();
      return 0;
    case VCPUOP.is_up:
      return v.isUp ? 1 : 0;
    case VCPUOP.get_runstate_info:
      ctx.guest.write(arg, core.runstateBytes(v));
      return 0;
    case VCPUOP.register_runstate_memory_area: {
      const addr = readU64(ctx, arg + VcpuRegisterRunstateMemoryArea.addr);
      s.runstateArea = addr;
      if (addr !== 0) core.copyToVcpu(v, addr, core.runstateBytes(v));
      return 0;
    }
    case VCPUOP.set_periodic_timer:
      return setPeriodic(core, ctx, v, arg);
    case VCPUOP.stop_periodic_timer:
      core.setPeriodic(v, 0, core.nowFor(ctx.now));
      return 0;
    case VCPUOP.set_singleshot_timer:
      return setSingleshot(core, ctx, v, arg);
    case VCPUOP.stop_singleshot_timer:
      if (!isCaller(ctx, v)) notCaller(ctx, 'stop_singleshot_timer');
      core.stopSingleshot(v);
      return 0;
    case VCPUOP.register_vcpu_info:
      return registerVcpuInfo(core, ctx, v, arg);
    case VCPUOP.send_nmi:
      if (arg !== 0) throw new GuestError('EINVAL', 'send_nmi takes no argument', { domid: ctx.domid });
      if (!s.nmiPending) {
        s.nmiPending = true;
        v.kick();
      }
      return 0;
    case VCPUOP.get_physid:
      return getPhysid(core, ctx, v, arg);
    case VCPUOP.register_vcpu_time_memory_area: {
      s.timeArea = readU64(ctx, arg + VcpuRegisterTimeMemoryArea.addr);
      core.updateTime(v, core.nowFor(ctx.now), true);
      return 0;
    }
    default:
      throw new GuestError('ENOSYS', `unknown vcpu_op ${cmd}`, { domid: ctx.domid });
  }
}
