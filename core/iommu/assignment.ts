/**
 * XEN_DOMCTL_assign_device / deassign_device over the IOMMU: which domain a host PCI device's DMA
 * belongs to. Devices start in Dom0; a destroyed guest's go back to it (as pciback keeps them
 * assignable), translated by Dom0's P2M again.
 */
import { GuestError } from '../api/errors.js';
import type { DomainRegistry } from '../api/domain.js';
import type { HostPciDevice, PciAssignment } from '../api/pci.js';
import { domId, pciBdf, type PciBdf } from '../public/types.js';
import type { Iommu } from './iommu.js';

/** `DDDD:BB:DD.F` (or `BB:DD.F`) → the IOMMU's BDF; undefined for another segment or a malformed address. */
function parseBdf(text: string): PciBdf | undefined {
  const m = /^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/.exec(text);
  if (!m || (m[1] !== undefined && parseInt(m[1], 16) !== 0) || parseInt(m[3]!, 16) > 0x1f) return undefined;
  return pciBdf(parseInt(m[2]!, 16), parseInt(m[3]!, 16), Number(m[4]));
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
const formatBdf = (bdf: PciBdf): string => `0000:${hex(bdf >> 8, 2)}:${hex((bdf >> 3) & 0x1f, 2)}.${bdf & 7}`;

export class PciAssignmentImpl implements PciAssignment {
  constructor(
    private readonly iommu: Iommu,
    private readonly domains: DomainRegistry,
    /** The host's devices, in definition order. */
    private readonly bdfs: readonly PciBdf[],
  ) {}

  devices(): HostPciDevice[] {
    return this.bdfs.map((bdf) => ({ bdf: formatBdf(bdf), owner: this.iommu.ownerOf(bdf) ?? domId(0) }));
  }

  assign(text: string, domid: number): void {
    const bdf = this.device(text, domid);
    const d = this.domains.lookup(domid);
    const owner = this.iommu.ownerOf(bdf);
    if (owner === domid) return;
    if (owner !== undefined && owner !== 0) throw new GuestError('EBUSY', `PCI device ${formatBdf(bdf)} is assigned to dom${owner}`, { domid });
    if (owner !== undefined) this.iommu.detach(bdf);
    this.iommu.attach(bdf, d.domid, d.p2m);
  }

  deassign(text: string, domid: number): void {
    const bdf = this.device(text, domid);
    if (this.iommu.ownerOf(bdf) !== domid || domid === 0) throw new GuestError('EINVAL', `PCI device ${formatBdf(bdf)} is not assigned to dom${domid}`, { domid });
    this.iommu.detach(bdf);
    this.iommu.attach(bdf, domId(0), this.domains.lookup(0).p2m);
  }

  /** A destroyed domain's devices go back to Dom0. */
  domainDestroyed(domid: number): void {
    const dom0 = this.domains.get(0);
    for (const bdf of this.bdfs) {
      if (this.iommu.ownerOf(bdf) !== domid) continue;
      this.iommu.detach(bdf);
      if (dom0 !== undefined) this.iommu.attach(bdf, domId(0), dom0.p2m);
    }
  }

  private device(text: string, domid: number): PciBdf {
    const bdf = parseBdf(text);
    if (bdf === undefined || !this.bdfs.includes(bdf)) throw new GuestError('ENODEV', `no PCI device ${text} on this host (machine definition devices: ${this.bdfs.map(formatBdf).join(', ') || 'none'})`, { domid });
    return bdf;
  }
}
