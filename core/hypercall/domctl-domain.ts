/** domctl's domain operations (Xen's common/domctl.c, domain.c): create, destroy, pause, unpause, max_mem, max_vcpus, getdomaininfo. */
import type { Domain, GuestMode } from '../api/domain.js';
import type { HypercallContext } from '../api/hypercall.js';
import { GuestError } from '../api/errors.js';
import type { HypervisorContext } from '../host/subsystem.js';
import { MemoryOps } from '../memory/memory-op.js';
import { GPADDR_BITS } from '../memory/memory-op-common.js';
import {
  XEN_DOMCTL_CDF,
  XEN_DOMCTL_CDF_ALL,
  XEN_DOMCTL_GRANT_version_mask,
  XEN_DOMCTL_IOMMU_no_sharept,
  XEN_DOMINF,
  XEN_DOMINF_shutdownshift,
  XEN_INVALID_MAX_VCPU_ID,
  XEN_X86_EMU,
  XEN_X86_EMU_ALL,
  XenArchDomainconfig,
  XenDomctlCreatedomain,
  XenDomctlGetdomaininfo,
} from '../public/domctl.js';
import { SHUTDOWN } from '../public/sched.js';
import { DOMID_FIRST_RESERVED } from '../public/xen.js';

/** What createdomain recorded about a domain, beyond the registry's Domain. */
export interface DomctlDomainState {
  readonly handle: Uint8Array;
  readonly ssidref: number;
  /** XEN_DOMCTL_CDF_*. */
  readonly flags: number;
  readonly emulationFlags: number;
  readonly miscFlags: number;
}

/** The emulation flags an HVM guest gets (all but vPCI) and a PVH guest (the local APIC only), as libxl asks and Xen accepts. */
export const HVM_EMULATION = XEN_X86_EMU_ALL & ~XEN_X86_EMU.VPCI;
export const PVH_EMULATION = XEN_X86_EMU.LAPIC;

/** For a domain createdomain did not make (Dom0, configured guests): what libxl would have passed for its mode. */
export function defaultDomctlState(d: Domain): DomctlDomainState {
  const hvm = d.mode !== 'pv';
  return {
    handle: new Uint8Array(16),
    ssidref: 0,
    flags: hvm ? XEN_DOMCTL_CDF.hvm | XEN_DOMCTL_CDF.hap : 0,
    emulationFlags: d.mode === 'pv' ? 0 : d.mode === 'pvh' ? PVH_EMULATION : HVM_EMULATION,
    miscFlags: 0,
  };
}

function einval(caller: HypercallContext, detail: string): GuestError {
  return new GuestError('EINVAL', `domctl: ${detail}`, { domid: caller.domid });
}

/** Xen's sanitise_domain_config + emulation_flags_ok: the guest mode the config asks for, or a GuestError. */
function guestModeOf(caller: HypercallContext, u: DataView): GuestMode {
  const C = XenDomctlCreatedomain;
  const flags = u.getUint32(C.flags, true);
  const hvm = (flags & XEN_DOMCTL_CDF.hvm) !== 0;
  if ((flags & ~XEN_DOMCTL_CDF_ALL) !== 0) throw einval(caller, `createdomain: unknown CDF flags 0x${flags.toString(16)}`);
  if ((u.getUint32(C.grantOpts, true) & ~XEN_DOMCTL_GRANT_version_mask) !== 0) throw einval(caller, 'createdomain: unknown grant options');
  if (u.getUint32(C.maxVcpus, true) < 1) throw einval(caller, 'createdomain: no vCPUs');
  if ((flags & XEN_DOMCTL_CDF.hap) !== 0 && !hvm) throw einval(caller, 'createdomain: HAP requested for a non-HVM guest');
  const iommuOpts = u.getUint32(C.iommuOpts, true);
  if ((flags & XEN_DOMCTL_CDF.iommu) !== 0 ? (iommuOpts & ~XEN_DOMCTL_IOMMU_no_sharept) !== 0 : iommuOpts !== 0) throw einval(caller, 'createdomain: bad IOMMU options');
  if (u.getUint32(C.vmtraceSize, true) !== 0) throw einval(caller, 'createdomain: vmtrace is not available');
  if ((flags & XEN_DOMCTL_CDF.nested_virt) !== 0 && !hvm) throw einval(caller, 'createdomain: nested virtualisation needs HVM');
  const emu = u.getUint32(C.arch + XenArchDomainconfig.emulationFlags, true);
  if ((emu & ~XEN_X86_EMU_ALL) !== 0) throw einval(caller, `createdomain: unknown emulation flags 0x${emu.toString(16)}`);
  if (hvm) {
    // libxl asks for the LAPIC alone for PVH; no emulation at all is read as PVH too (Xen 4.17 refuses it).
    if (emu === PVH_EMULATION || emu === 0) return 'pvh';
    if (emu === HVM_EMULATION) return 'hvm';
  } else if (emu === 0 || emu === XEN_X86_EMU.PIT) {
    return 'pv';
  }
  throw new GuestError('EOPNOTSUPP', `createdomain: emulation flags 0x${emu.toString(16)} are not allowed for a ${hvm ? 'HVM' : 'PV'} domain`, { domid: caller.domid });
}

// --- operations -----------------------------------------------------------------------------------

/**
 * XEN_DOMCTL_createdomain: a paused domain with `max_vcpus` vCPUs and max_pages 0. `domain` 1..0x7fef
 * asks for that domid (EEXIST if taken); anything else takes the next free one. Returns the new domid.
 */
export function createDomain(ctx: HypervisorContext, caller: HypercallContext, requested: number, u: DataView, states: Map<number, DomctlDomainState>): number {
  const C = XenDomctlCreatedomain;
  const mode = guestModeOf(caller, u);
  if (u.getUint32(C.cpupoolId, true) !== 0) throw einval(caller, `createdomain: no cpupool ${u.getUint32(C.cpupoolId, true)}`);
  const d = ctx.domains.create({
    ...(requested > 0 && requested < DOMID_FIRST_RESERVED ? { domid: requested } : {}),
    mode,
    vcpus: u.getUint32(C.maxVcpus, true),
    maxPages: 0,
    pages: 0,
    paused: true,
  });
  states.set(d.domid, {
    handle: new Uint8Array(u.buffer.slice(u.byteOffset + C.handle, u.byteOffset + C.handle + C.handleSize)),
    ssidref: u.getUint32(C.ssidref, true),
    flags: u.getUint32(C.flags, true),
    emulationFlags: u.getUint32(C.arch + XenArchDomainconfig.emulationFlags, true),
    miscFlags: u.getUint32(C.arch + XenArchDomainconfig.miscFlags, true),
  });
  return d.domid;
}

/** The toolstack's pauses (Xen's controller_pause_count): the registry's count less the one a shutdown holds. */
export function controllerPauses(d: Domain): number {
  return d.pauseCount - (d.shutdownReason !== undefined ? 1 : 0);
}

/** XEN_DOMCTL_pausedomain: a domain may not pause itself (EINVAL). */
export function pauseDomain(ctx: HypervisorContext, caller: HypercallContext, d: Domain): void {
  if (d.domid === caller.domid) throw einval(caller, `dom${d.domid} cannot pause itself`);
  ctx.domains.pause(d.domid);
}

/** XEN_DOMCTL_unpausedomain: undoes one toolstack pause; EINVAL when there is none. */
export function unpauseDomain(ctx: HypervisorContext, caller: HypercallContext, d: Domain): void {
  if (controllerPauses(d) <= 0) throw einval(caller, `dom${d.domid} is not paused by the toolstack`);
  ctx.domains.unpause(d.domid);
}

/** XEN_DOMCTL_max_mem: max_pages = max_memkb / 4, capped at 2^32 − 1. May go below tot_pages. */
export function setMaxMem(d: Domain, maxMemkb: bigint): void {
  const pages = maxMemkb >> 2n;
  d.setMaxPages(Number(pages > 0xffffffffn ? 0xffffffffn : pages));
}

/** XEN_DOMCTL_max_vcpus: createdomain already made the vCPUs, so `max` must equal their number (EINVAL otherwise, or on oneself). */
export function setMaxVcpus(caller: HypercallContext, d: Domain, max: number): void {
  if (d.domid === caller.domid) throw einval(caller, 'max_vcpus on oneself');
  if (max !== d.vcpus.length) throw einval(caller, `max_vcpus ${max} differs from createdomain's ${d.vcpus.length}`);
}

/** XEN_DOMCTL_getdomaininfo in 4.17: the first domain whose id is ≥ `domid` (the caller checks the id it got). */
export function nextDomain(ctx: HypervisorContext, caller: HypercallContext, domid: number): Domain {
  if (domid >= DOMID_FIRST_RESERVED) throw einval(caller, `getdomaininfo: domid ${domid} is reserved`);
  const d = ctx.domains.list().find((x) => x.domid >= domid);
  if (d === undefined) throw new GuestError('ESRCH', `getdomaininfo: no domain at or above ${domid}`, { domid: caller.domid });
  return d;
}

/** Fills a `xen_domctl_getdomaininfo` for `d` at `at` in `out` (Xen's getdomaininfo()). */
export function encodeDomainInfo(ctx: HypervisorContext, d: Domain, state: DomctlDomainState, out: DataView, at: number): void {
  const I = XenDomctlGetdomaininfo;
  new Uint8Array(out.buffer, out.byteOffset + at, I.size).fill(0);
  let online = 0;
  let maxVcpuId = XEN_INVALID_MAX_VCPU_ID;
  let cpuTime = 0;
  let runFlags = XEN_DOMINF.blocked;
  for (const v of d.vcpus) {
    cpuTime += v.runstateInfo().time.running;
    maxVcpuId = v.vcpuId;
    if (!v.isUp) continue;
    online++;
    if (v.runstate !== 'blocked') runFlags &= ~XEN_DOMINF.blocked;
    if (v.runstate === 'running') runFlags |= XEN_DOMINF.running;
  }
  const shutdown = d.shutdownReason !== undefined;
  const flags =
    (online > 0 ? runFlags : 0) |
    (d.state === 'dying' || d.state === 'dead' ? XEN_DOMINF.dying : 0) |
    (shutdown ? XEN_DOMINF.shutdown | (SHUTDOWN[d.shutdownReason!] << XEN_DOMINF_shutdownshift) : 0) |
    (controllerPauses(d) > 0 ? XEN_DOMINF.paused : 0) |
    ((state.flags & XEN_DOMCTL_CDF.xs_domain) !== 0 ? XEN_DOMINF.xs_domain : 0) |
    (d.mode !== 'pv' ? XEN_DOMINF.hvm_guest : 0) |
    ((state.flags & XEN_DOMCTL_CDF.hap) !== 0 ? XEN_DOMINF.hap : 0);
  out.setUint16(at + I.domain, d.domid, true);
  out.setUint32(at + I.flags, flags >>> 0, true);
  out.setBigUint64(at + I.totPages, BigInt(d.totPages), true);
  out.setBigUint64(at + I.maxPages, BigInt(d.maxPages), true);
  out.setBigUint64(at + I.sharedInfoFrame, sharedInfoFrame(ctx, d), true);
  out.setBigUint64(at + I.cpuTime, BigInt(Math.floor(cpuTime)), true);
  out.setUint32(at + I.nrOnlineVcpus, online, true);
  out.setUint32(at + I.maxVcpuId, maxVcpuId, true);
  out.setUint32(at + I.ssidref, state.ssidref, true);
  new Uint8Array(out.buffer, out.byteOffset + at + I.handle, 16).set(state.handle);
  out.setUint32(at + I.cpupool, 0, true);
  out.setUint8(at + I.gpaddrBits, GPADDR_BITS);
  out.setUint32(at + I.archConfig + XenArchDomainconfig.emulationFlags, state.emulationFlags, true);
  out.setUint32(at + I.archConfig + XenArchDomainconfig.miscFlags, state.miscFlags, true);
}

/** shared_info_frame: the MFN for PV; for a translated guest the gfn add_to_physmap put it at, else INVALID_M2P_ENTRY (~0). */
function sharedInfoFrame(ctx: HypervisorContext, d: Domain): bigint {
  const shared = ctx.sharedInfoOf(d.domid);
  if (shared === undefined) return 0n;
  if (d.mode === 'pv') return BigInt(shared.mfn);
  const ops = ctx.container.isRegistered(MemoryOps, true) ? ctx.container.resolve(MemoryOps) : undefined;
  const gfn = ops?.specialFrameGfn(d.domid, shared.mfn);
  return gfn === undefined ? 0xffff_ffff_ffff_ffffn : BigInt(gfn);
}
