/** hvm_op (hypercall 34): HVM params with Xen's guest/toolstack rules, upcall vectors, time, TLB flush, memory types (xen/arch/x86/hvm/hvm.c). */
import type { HypercallArgs, HypercallContext, HypercallHandler } from '../api/hypercall.js';
import type { Domain, HvmParams } from '../api/domain.js';
import type { HypervisorContext } from '../host/subsystem.js';
import { GuestError } from '../api/errors.js';
import { EventChannels } from '../api/event-channel.js';
import { P2mType } from '../api/memory.js';
import { HVMOP, HVM_NR_PARAMS, HVM_PARAM, HVM_PARAM_CALLBACK_TYPE, XenHvmEvtchnUpcallVector, XenHvmParam } from '../public/hvm.js';
import {
  HVMMEM,
  HVMPTM_MAX,
  HVMPV_BASE_FREQ,
  HVMPV_FEATURE_MASK,
  HVM_NR_GSIS,
  HVM_PARAM_DEPRECATED,
  MAX_IOREQ_SERVER_PAGES,
  MIN_UPCALL_VECTOR,
  VM86_TSS,
  XEN_ALTP2M_LIMITED,
  XEN_HVM_MCA_CAP_MASK,
  XenHvmGetMemType,
  XenHvmGetTime,
  XenHvmPagetableDying,
} from '../public/platform.js';
import { SHUTDOWN } from '../public/sched.js';
import { DOMID_SELF } from '../public/xen.js';
import { guestFrame } from '../public/types.js';

const P = HVM_PARAM;
/** Params a domain may set on itself (hvm_allow_set_param); the rest are the toolstack's. */
const GUEST_SETTABLE = new Set<number>([P.CALLBACK_IRQ, P.VM86_TSS, P.VM86_TSS_SIZED, P.ACPI_IOPORTS_LOCATION, P.VM_GENERATION_ID_ADDR, P.STORE_EVTCHN, P.CONSOLE_EVTCHN, P.X87_FIP_WIDTH]);
/** Params a domain may read about itself (hvm_allow_get_param). */
const GUEST_READABLE = new Set<number>([...GUEST_SETTABLE, P.STORE_PFN, P.CONSOLE_PFN, P.ALTP2M]);
/** Retired params: EINVAL for everyone. */
const DEPRECATED = new Set<number>([P.PAE_ENABLED, P.DM_DOMAIN, P.NESTEDHVM, P.BUFIOREQ_EVTCHN, ...Object.values(HVM_PARAM_DEPRECATED)]);
/** Params that may only be changed once: a second, different value is EEXIST. */
const SET_ONCE = new Set<number>([P.VIRIDIAN, P.IOREQ_PFN, P.BUFIOREQ_PFN, P.IOREQ_SERVER_PFN, P.NR_IOREQ_SERVER_PAGES, P.ALTP2M, P.MCA_CAP]);

const U32 = 0xffff_ffffn;

function isHvm(d: Domain): boolean {
  return d.mode !== 'pv';
}

/** Xen's callback-via decoding, made strict: a value Xen would silently turn into "no callback" is EINVAL here. */
export function checkCallbackIrq(value: bigint): string | undefined {
  if (value === 0n) return undefined;
  const type = Number(value >> 56n);
  const low = value & ((1n << 56n) - 1n);
  switch (type) {
    case HVM_PARAM_CALLBACK_TYPE.GSI:
      return low < BigInt(HVM_NR_GSIS) ? undefined : `GSI ${low} is not below ${HVM_NR_GSIS}`;
    case HVM_PARAM_CALLBACK_TYPE.PCI_INTX:
      if (low >> 32n !== 0n) return 'PCI INTx: only segment 0 exists (bits 55:32 must be 0)';
      if ((low >> 16n) & 0xffffn) return 'PCI INTx: only bus 0 exists';
      return (low & 0xfcn) === 0n ? undefined : 'PCI INTx: bits 7:2 must be 0 (pin is bits 1:0)';
    case HVM_PARAM_CALLBACK_TYPE.VECTOR:
      if (low >> 8n !== 0n) return 'vector callback: bits 55:8 must be 0';
      return low >= BigInt(MIN_UPCALL_VECTOR) ? undefined : `vector 0x${low.toString(16)} is below 0x10`;
    default:
      return `unknown callback type ${type}`;
  }
}

/** hvm_set_param's per-param checks; returns the value to store and where (VM86_TSS is kept in VM86_TSS_SIZED). */
function validateSet(index: number, value: bigint, privileged: boolean): { index: number; value: bigint } | string {
  switch (index) {
    case P.CALLBACK_IRQ:
      return checkCallbackIrq(value) ?? { index, value };
    case P.TIMER_MODE:
      return value > BigInt(HVMPTM_MAX) ? `timer mode ${value} > ${HVMPTM_MAX}` : { index, value };
    case P.VIRIDIAN:
      return (value & ~BigInt(HVMPV_FEATURE_MASK)) !== 0n || (value & BigInt(HVMPV_BASE_FREQ)) === 0n ? 'viridian: unknown feature bits or base_freq missing' : { index, value };
    case P.ACPI_S_STATE:
      return value === 0n || value === 3n ? { index, value } : `ACPI S-state ${value}: only S0 (0) and S3 (3)`;
    case P.ACPI_IOPORTS_LOCATION:
      return value <= 1n ? { index, value } : `ACPI I/O port layout ${value}: only 0 and 1`;
    case P.ALTP2M:
      if (!privileged) return 'EPERM';
      return value > BigInt(XEN_ALTP2M_LIMITED) ? `altp2m mode ${value} > ${XEN_ALTP2M_LIMITED}` : { index, value };
    case P.TRIPLE_FAULT_REASON:
      return value > BigInt(SHUTDOWN.soft_reset) ? `shutdown reason ${value} unknown` : { index, value };
    case P.NR_IOREQ_SERVER_PAGES:
      return value === 0n || value > BigInt(MAX_IOREQ_SERVER_PAGES) ? `ioreq server pages ${value}: 1..${MAX_IOREQ_SERVER_PAGES}` : { index, value };
    case P.X87_FIP_WIDTH:
      return value === 0n || value === 4n || value === 8n ? { index, value } : `x87 FIP width ${value}: 0, 4 or 8`;
    case P.MCA_CAP:
      return (value & ~XEN_HVM_MCA_CAP_MASK) !== 0n ? `MCA capabilities 0x${value.toString(16)}: only LMCE` : { index, value };
    case P.VM86_TSS:
      if (value > U32) return 'VM86 TSS address above 4 GiB';
      return { index: P.VM86_TSS_SIZED, value: value === 0n ? 0n : value | (128n << 32n) | VM86_TSS.updated };
    case P.VM86_TSS_SIZED: {
      const size = value >> 32n;
      if (size < BigInt(VM86_TSS.minSize)) return `VM86 TSS size ${size} < ${VM86_TSS.minSize}`;
      const capped = size > BigInt(VM86_TSS.maxSize) ? (value & U32) | (BigInt(VM86_TSS.maxSize) << 32n) : value;
      return { index, value: capped | VM86_TSS.updated };
    }
    default:
      return { index, value };
  }
}

/** hvm_get_param: the stored value, decoded for the VM86 TSS params. */
function readParam(params: HvmParams, index: number): bigint {
  if (index === P.VM86_TSS) return params.get(P.VM86_TSS_SIZED) & U32;
  if (index === P.VM86_TSS_SIZED) return params.get(P.VM86_TSS_SIZED) & ~VM86_TSS.updated;
  return params.get(index);
}

/** Xen's `hvmop_get_mem_type` classification of a P2M type. */
function memTypeOf(type: number): number {
  switch (type) {
    case P2mType.mmio_dm:
    case P2mType.mmio_direct:
      return HVMMEM.mmio_dm;
    case P2mType.ram_ro:
    case P2mType.ram_logdirty:
    case P2mType.grant_map_ro:
      return HVMMEM.ram_ro;
    case P2mType.ram_rw:
    case P2mType.populate_on_demand:
    case P2mType.grant_map_rw:
      return HVMMEM.ram_rw;
    default:
      return HVMMEM.mmio_dm;
  }
}

/** Makes the hvm_op handler over the hypervisor's context. */
export function makeHvmOp(hv: HypervisorContext): HypercallHandler {
  /** rcu_lock_domain_by_any_id: DOMID_SELF or a live domain, else ESRCH. */
  function domainById(ctx: HypercallContext, domid: number): Domain {
    const id = domid === DOMID_SELF ? ctx.domid : domid;
    const d = hv.domains.get(id);
    if (!d) throw new GuestError('ESRCH', `hvm_op: no domain ${id}`, { domid: ctx.domid });
    return d;
  }

  /** XSM_TARGET: a domain may act on itself; Dom0 on anyone. */
  function checkTarget(ctx: HypercallContext, d: Domain, what: string): void {
    if (d.domid !== ctx.domid && !ctx.privileged) throw new GuestError('EPERM', `hvm_op ${what}: dom${ctx.domid} may not act on dom${d.domid}`, { domid: ctx.domid });
  }

  function paramsOf(ctx: HypercallContext, d: Domain): HvmParams {
    const params = hv.hvmParamsOf(d.domid);
    if (!params) throw new GuestError('ESRCH', `hvm_op: dom${d.domid} has no HVM params`, { domid: ctx.domid });
    return params;
  }

  function setParam(ctx: HypercallContext, arg: number): number {
    const domid = ctx.guest.readU16(arg + XenHvmParam.domid);
    const index = ctx.guest.readU32(arg + XenHvmParam.index);
    const value = ctx.guest.readU64Big(arg + XenHvmParam.value);
    if (index >= HVM_NR_PARAMS) throw new GuestError('EINVAL', `set_param: no param ${index}`, { domid: ctx.domid });
    const d = domainById(ctx, domid);
    if (!isHvm(d)) throw new GuestError('EINVAL', `set_param: dom${d.domid} is PV`, { domid: ctx.domid });
    checkTarget(ctx, d, 'set_param');
    if (DEPRECATED.has(index)) throw new GuestError('EINVAL', `set_param: param ${index} is deprecated`, { domid: ctx.domid });
    if (d.domid === ctx.domid && !GUEST_SETTABLE.has(index)) throw new GuestError('EPERM', `set_param: param ${index} is the toolstack's`, { domid: ctx.domid });
    const params = paramsOf(ctx, d);
    const old = params.get(index);
    if (SET_ONCE.has(index) && old !== 0n && old !== value) throw new GuestError('EEXIST', `set_param: param ${index} is already 0x${old.toString(16)}`, { domid: ctx.domid });
    const checked = validateSet(index, value, ctx.privileged);
    if (checked === 'EPERM') throw new GuestError('EPERM', `set_param: param ${index} needs privilege`, { domid: ctx.domid });
    if (typeof checked === 'string') throw new GuestError('EINVAL', `set_param dom${d.domid}: ${checked}`, { domid: ctx.domid });
    params.set(checked.index, checked.value);
    return 0;
  }

  function getParam(ctx: HypercallContext, arg: number): number {
    const domid = ctx.guest.readU16(arg + XenHvmParam.domid);
    const index = ctx.guest.readU32(arg + XenHvmParam.index);
    if (index >= HVM_NR_PARAMS) throw new GuestError('EINVAL', `get_param: no param ${index}`, { domid: ctx.domid });
    const d = domainById(ctx, domid);
    if (!isHvm(d)) throw new GuestError('EINVAL', `get_param: dom${d.domid} is PV`, { domid: ctx.domid });
    checkTarget(ctx, d, 'get_param');
    if (DEPRECATED.has(index)) throw new GuestError('EINVAL', `get_param: param ${index} is deprecated`, { domid: ctx.domid });
    if (d.domid === ctx.domid && !GUEST_READABLE.has(index)) throw new GuestError('EPERM', `get_param: param ${index} is the toolstack's`, { domid: ctx.domid });
    ctx.guest.writeU64Big(arg + XenHvmParam.value, readParam(paramsOf(ctx, d), index));
    return 0;
  }

  function setUpcallVector(ctx: HypercallContext, arg: number): number {
    const self = domainById(ctx, ctx.domid);
    if (!isHvm(self)) throw new GuestError('EINVAL', 'set_evtchn_upcall_vector: PV domains have no upcall vector', { domid: ctx.domid });
    const vcpu = ctx.guest.readU32(arg + XenHvmEvtchnUpcallVector.vcpu);
    const vector = ctx.guest.readU8(arg + XenHvmEvtchnUpcallVector.vector);
    if (vector < MIN_UPCALL_VECTOR) throw new GuestError('EINVAL', `set_evtchn_upcall_vector: vector 0x${vector.toString(16)} is below 0x10`, { domid: ctx.domid });
    if (vcpu >= self.vcpus.length) throw new GuestError('ENOENT', `set_evtchn_upcall_vector: no vcpu${vcpu}`, { domid: ctx.domid });
    if (!hv.container.isRegistered(EventChannels, true)) throw new GuestError('ENOSYS', 'set_evtchn_upcall_vector: no event-channel subsystem', { domid: ctx.domid });
    hv.container.resolve(EventChannels).setUpcallVector(ctx.domid, vcpu, vector);
    return 0;
  }

  function flushTlbs(ctx: HypercallContext, arg: number): number {
    if (arg !== 0) throw new GuestError('EINVAL', 'flush_tlbs takes no argument', { domid: ctx.domid });
    const self = domainById(ctx, ctx.domid);
    if (!isHvm(self)) throw new GuestError('EINVAL', 'flush_tlbs: PV domain', { domid: ctx.domid });
    for (let v = 0; v < self.vcpus.length; v++) hv.guestAccessOf(self.domid, v)?.mmu?.flushTlb();
    return 0;
  }

  function pagetableDying(ctx: HypercallContext, arg: number): number {
    const domid = ctx.guest.readU16(arg + XenHvmPagetableDying.domid);
    ctx.guest.readU64(arg + XenHvmPagetableDying.gpa);
    const d = domainById(ctx, domid);
    if (d.domid !== ctx.domid) throw new GuestError('EOPNOTSUPP', 'pagetable_dying: only for the caller itself', { domid: ctx.domid });
    const mmu = hv.guestAccessOf(d.domid, ctx.vcpuId)?.mmu;
    if (!isHvm(d) || mmu?.mode !== 'shadow') throw new GuestError('EINVAL', 'pagetable_dying: only shadow-paged HVM guests', { domid: ctx.domid });
    mmu.flushTlb();
    return 0;
  }

  function getMemType(ctx: HypercallContext, arg: number): number {
    const domid = ctx.guest.readU16(arg + XenHvmGetMemType.domid);
    const pfn = ctx.guest.readU64(arg + XenHvmGetMemType.pfn);
    const d = domainById(ctx, domid);
    checkTarget(ctx, d, 'get_mem_type');
    if (!isHvm(d)) throw new GuestError('EINVAL', `get_mem_type: dom${d.domid} is PV`, { domid: ctx.domid });
    const p2m = hv.p2mOf(d.domid);
    const type = p2m && Number.isSafeInteger(pfn) && pfn >= 0 && pfn < 2 ** 40 ? p2m.typeOf(guestFrame(pfn)) : P2mType.invalid;
    ctx.guest.writeU16(arg + XenHvmGetMemType.memType, memTypeOf(type));
    return 0;
  }

  return (ctx: HypercallContext, args: HypercallArgs): number => {
    const op = args[0] ?? 0;
    const arg = args[1] ?? 0;
    switch (op) {
      case HVMOP.set_param:
        return setParam(ctx, arg);
      case HVMOP.get_param:
        return getParam(ctx, arg);
      case HVMOP.set_evtchn_upcall_vector:
        return setUpcallVector(ctx, arg);
      case HVMOP.flush_tlbs:
        return flushTlbs(ctx, arg);
      case HVMOP.pagetable_dying:
        return pagetableDying(ctx, arg);
      case HVMOP.get_time:
        ctx.guest.writeU64(arg + XenHvmGetTime.now, Math.floor(ctx.now));
        return 0;
      case HVMOP.get_mem_type:
        return getMemType(ctx, arg);
      case HVMOP.altp2m:
        throw new GuestError('EOPNOTSUPP', 'altp2m is not enabled (Xen boots with altp2m=0)', { domid: ctx.domid });
      default:
        throw new GuestError('ENOSYS', `hvm_op: sub-op ${op} is not implemented`, { domid: ctx.domid });
    }
  };
}
