/** domctl (36) and sysctl (35) for Dom0's toolstack, byte-compatible with Xen 4.17's xen_domctl / xen_sysctl. Privilege is the table's job. */
import type { HypercallArgs, HypercallContext } from '../api/hypercall.js';
import type { Domain } from '../api/domain.js';
import { GuestError } from '../api/errors.js';
import type { SubsystemFactory } from '../host/subsystem.js';
import { XEN_DOMCTL, XEN_DOMCTL_INTERFACE_VERSION, XEN_SYSCTL, XEN_SYSCTL_INTERFACE_VERSION, XenDomctl, XenDomctlMaxMem, XenDomctlMaxVcpus, XenDomctlVcpucontext, XenSysctl } from '../public/domctl.js';
import { machineFrame, type DomId } from '../public/types.js';
import { createDomain, defaultDomctlState, nextDomain, pauseDomain, setMaxMem, setMaxVcpus, unpauseDomain, encodeDomainInfo, type DomctlDomainState } from './domctl-domain.js';
import { getVcpuContext, setVcpuContext } from './domctl-vcpucontext.js';
import { getDomainInfoList, physinfo } from './sysctl.js';

export type { DomctlDomainState } from './domctl-domain.js';

// --- helpers --------------------------------------------------------------------------------------

/** Reads the whole struct at `addr` (EFAULT) and checks its interface version (EACCES, as Xen). */
function readOp(caller: HypercallContext, addr: number, size: number, version: number, name: string): { raw: Uint8Array; view: DataView } {
  const raw = caller.guest.read(addr, size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const got = view.getUint32(4, true);
  if (got !== version) throw new GuestError('EACCES', `${name}: interface version 0x${got.toString(16)}, expected 0x${version.toString(16)}`, { domid: caller.domid });
  return { raw, view };
}

/**
 * Makes the domctl/sysctl subsystem. Besides the registry's Domain it keeps what createdomain was told
 * (handle, ssidref, CDF and emulation flags), for getdomaininfo. Unknown commands return −ENOSYS.
 */
export const createDomctl: SubsystemFactory = (ctx) => {
  const states = new Map<number, DomctlDomainState>();
  const stateOf = (d: Domain): DomctlDomainState => states.get(d.domid) ?? defaultDomctlState(d);

  // --- dispatch -----------------------------------------------------------------------------------

  /** `do_domctl(u_domctl)`: decode → run → copy the struct back for the commands that return data in it. */
  function doDomctl(caller: HypercallContext, args: HypercallArgs): number {
    const addr = args[0] ?? 0;
    const { raw, view } = readOp(caller, addr, XenDomctl.size, XEN_DOMCTL_INTERFACE_VERSION, 'domctl');
    const cmd = view.getUint32(XenDomctl.cmd, true);
    const domain = view.getUint16(XenDomctl.domain, true);
    const u = new DataView(raw.buffer, raw.byteOffset + XenDomctl.u, XenDomctl.uSize);
    const lookup = (): Domain => ctx.domains.lookup(domain);
    let copyback = false;
    switch (cmd) {
      case XEN_DOMCTL.createdomain:
        view.setUint16(XenDomctl.domain, createDomain(ctx, caller, domain, u, states), true);
        copyback = true;
        break;
      case XEN_DOMCTL.destroydomain:
        ctx.domains.destroy(lookup().domid);
        break;
      case XEN_DOMCTL.pausedomain:
        pauseDomain(ctx, caller, lookup());
        break;
      case XEN_DOMCTL.unpausedomain:
        unpauseDomain(ctx, caller, lookup());
        break;
      case XEN_DOMCTL.getdomaininfo: {
        const d = nextDomain(ctx, caller, domain);
        encodeDomainInfo(ctx, d, stateOf(d), u, 0);
        view.setUint16(XenDomctl.domain, d.domid, true);
        copyback = true;
        break;
      }
      case XEN_DOMCTL.max_mem:
        setMaxMem(lookup(), u.getBigUint64(XenDomctlMaxMem.maxMemkb, true));
        break;
      case XEN_DOMCTL.max_vcpus:
        setMaxVcpus(caller, lookup(), u.getUint32(XenDomctlMaxVcpus.max, true));
        break;
      case XEN_DOMCTL.getvcpucontext:
        getVcpuContext(caller, lookup(), u.getUint32(XenDomctlVcpucontext.vcpu, true), Number(u.getBigInt64(XenDomctlVcpucontext.ctxt, true)));
        copyback = true;
        break;
      case XEN_DOMCTL.setvcpucontext: {
        const d = lookup();
        const pause = (on: boolean): void => (on ? ctx.domains.pause(d.domid) : ctx.domains.unpause(d.domid));
        const ownsFrame = (mfn: number): boolean => ctx.memory.ownerOf(machineFrame(mfn)) === d.domid;
        setVcpuContext(caller, d, u.getUint32(XenDomctlVcpucontext.vcpu, true), Number(u.getBigInt64(XenDomctlVcpucontext.ctxt, true)), pause, ownsFrame);
        break;
      }
      default:
        throw new GuestError('ENOSYS', `domctl: command ${cmd} is not implemented`, { domid: caller.domid });
    }
    if (copyback) caller.guest.write(addr, raw);
    return 0;
  }

  /** `do_sysctl(u_sysctl)`. */
  function doSysctl(caller: HypercallContext, args: HypercallArgs): number {
    const addr = args[0] ?? 0;
    const { raw, view } = readOp(caller, addr, XenSysctl.size, XEN_SYSCTL_INTERFACE_VERSION, 'sysctl');
    const cmd = view.getUint32(XenSysctl.cmd, true);
    const u = new DataView(raw.buffer, raw.byteOffset + XenSysctl.u, XenSysctl.uSize);
    switch (cmd) {
      case XEN_SYSCTL.physinfo:
        physinfo(ctx, u);
        break;
      case XEN_SYSCTL.getdomaininfolist:
        getDomainInfoList(ctx, caller, u, stateOf);
        break;
      default:
        throw new GuestError('ENOSYS', `sysctl: command ${cmd} is not implemented`, { domid: caller.domid });
    }
    caller.guest.write(addr, raw);
    return 0;
  }

  // --- domain init / destroy ----------------------------------------------------------------------

  const onDestroyed = (domid: DomId): void => {
    states.delete(domid);
  };
  ctx.domains.events.on('destroyed', onDestroyed);
  const removers = [ctx.hypercalls.register('domctl', doDomctl), ctx.hypercalls.register('sysctl', doSysctl)];

  // --- debug dump ---------------------------------------------------------------------------------

  function dump(): string {
    const lines = ['domctl: domains made by createdomain'];
    for (const [domid, s] of states) lines.push(`  dom${domid}: flags 0x${s.flags.toString(16)} emulation 0x${s.emulationFlags.toString(16)} ssidref ${s.ssidref}`);
    return lines.join('\n');
  }

  return {
    name: 'domctl',
    dump,
    dispose() {
      for (const remove of removers) remove();
      ctx.domains.events.off('destroyed', onDestroyed);
      states.clear();
    },
  };
};
