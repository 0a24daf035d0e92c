/** sysctl's operations for the toolstack (Xen's common/sysctl.c): physinfo and getdomaininfolist. */
import type { HypercallContext } from '../api/hypercall.js';
import type { Domain } from '../api/domain.js';
import { GuestError } from '../api/errors.js';
import type { HypervisorContext } from '../host/subsystem.js';
import { XEN_SYSCTL_PHYSCAP, XenDomctlGetdomaininfo, XenSysctlGetdomaininfolist, XenSysctlPhysinfo } from '../public/domctl.js';
import { encodeDomainInfo, type DomctlDomainState } from './domctl-domain.js';

/** Xen's MAX_NUMNODES − 1 on x86 (NODES_SHIFT 6): physinfo's max_node_id. */
const MAX_NODE_ID = 63;
/** What the simulated platform offers: HVM and PV guests, HAP and shadow paging, an IOMMU sharing the P2M, grant tables v1. */
const CAPABILITIES =
  XEN_SYSCTL_PHYSCAP.hvm | XEN_SYSCTL_PHYSCAP.pv | XEN_SYSCTL_PHYSCAP.directio | XEN_SYSCTL_PHYSCAP.hap | XEN_SYSCTL_PHYSCAP.shadow | XEN_SYSCTL_PHYSCAP.iommu_hap_pt_share | XEN_SYSCTL_PHYSCAP.gnttab_v1;

/** XEN_SYSCTL_physinfo: fills the union `u` (zeroed first). One socket, one thread per core, one NUMA node. */
export function physinfo(ctx: HypervisorContext, u: DataView): void {
  const P = XenSysctlPhysinfo;
  new Uint8Array(u.buffer, u.byteOffset, P.size).fill(0);
  const cpus = ctx.pool.cpus.size;
  u.setUint32(P.threadsPerCore, 1, true);
  u.setUint32(P.coresPerSocket, cpus, true);
  u.setUint32(P.nrCpus, cpus, true);
  u.setUint32(P.maxCpuId, cpus - 1, true);
  u.setUint32(P.nrNodes, 1, true);
  u.setUint32(P.maxNodeId, MAX_NODE_ID, true);
  u.setUint32(P.cpuKhz, ctx.timers.tsc.khz, true);
  u.setUint32(P.capabilities, CAPABILITIES, true);
  u.setBigUint64(P.totalPages, BigInt(ctx.memory.totalFrames), true);
  u.setBigUint64(P.freePages, BigInt(ctx.memory.freeFrames), true);
  u.setBigUint64(P.maxMfn, BigInt(ctx.memory.totalFrames - 1), true);
}

/**
 * XEN_SYSCTL_getdomaininfolist: a getdomaininfo struct per domain with domid ≥ first_domain, up to
 * max_domains, into `buffer`; num_domains is set in `u`. A write that faults fails the call (EFAULT).
 */
export function getDomainInfoList(ctx: HypervisorContext, caller: HypercallContext, u: DataView, stateOf: (d: Domain) => DomctlDomainState): void {
  const L = XenSysctlGetdomaininfolist;
  const first = u.getUint16(L.firstDomain, true);
  const max = u.getUint32(L.maxDomains, true);
  const buffer = Number(u.getBigInt64(L.buffer, true));
  const info = new DataView(new ArrayBuffer(XenDomctlGetdomaininfo.size));
  let n = 0;
  for (const d of ctx.domains.list()) {
    if (d.domid < first) continue;
    if (n === max) break;
    encodeDomainInfo(ctx, d, stateOf(d), info, 0);
    try {
      caller.guest.write(buffer + n * XenDomctlGetdomaininfo.size, new Uint8Array(info.buffer));
    } catch (error) {
      if (error instanceof GuestError) throw new GuestError('EFAULT', `getdomaininfolist: cannot write entry ${n} at 0x${buffer.toString(16)}`, { domid: caller.domid });
      throw error;
    }
    n++;
  }
  u.setUint32(L.numDomains, n, true);
}
