/**
 * XEN_DOMCTL_assign_device / deassign_device over the IOMMU: which domain a host PCI device's DMA
 * belongs to. Devices start in Dom0; a destroyed guest's go back to it (as pciback keeps them
 * assignable), translated by Dom0's P2M again.
 */
import { GuestError } from '../api/errors.js';
import type { DomainRegistry } from '../api/domain.js';
import type { HostPciDevice, PciAssignment } from '../api/pci.js';
import { domId, pciBdf, type PciBdf } from '../public/types.js';
import { formatBdf, parseBdf } from '../config/pcispec.js';
import type { Iommu } from './iommu.js';

/** `[DDDD:]BB:DD.F` → the IOMMU's BDF; undefined for a malformed address or one outside segment 0. */
function toBdf(text: string): PciBdf | undefined {
  const r = parseBdf(text);
  if ('error' in r || r.bdf.segment !== 0) return undefined;
  return pciBdf(r.bdf.bus, r.bdf.device, r.bdf.function);
}

/** The IOMMU's BDF as `DDDD:BB:DD.F`. */
const bdfText = (bdf: PciBdf): string => formatBdf({ segment: 0, bus: bdf >> 8, device: (bdf >> 3) & 0x1f, function: bdf & 7 });

export class PciAssignmentImpl implements PciAssignment {
  constructor(
    private readonly iommu: Iommu,
    private readonly domains: DomainRegistry,
    /** The host's devices, in definition order. */
    private readonly bdfs: readonly PciBdf[],
  ) {}

  devices(): HostPciDevice[] {
    return this.bdfs.map((bdf) => ({ bdf: bdfText(bdf), owner: this.iommu.ownerOf(bdf) ?? domId(0) }));
  }

  assign(text: string, domid: number): void {
    const bdf = this.device(text, domid);
    const d = this.domains.lookup(domid);
    const owner = this.iommu.ownerOf(bdf);
    if (owner === domid) return;
    if (owner !== undefined && owner !== 0) throw new GuestError('EBUSY', `PCI device ${bdfText(bdf)} is assigned to dom${owner}`, { domid });
    if (owner !== undefined) this.iommu.detach(bdf);
    this.iommu.attach(bdf, d.domid, d.p2m);
  }

  deassign(text: string, domid: number): void {
    const bdf = this.device(text, domid);
    if (this.iommu.ownerOf(bdf) !== domid || domid === 0) throw new GuestError('EINVAL', `PCI device ${bdfText(bdf)} is not assigned to dom${domid}`, { domid });
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
    const bdf = toBdf(text);
    if (bdf === undefined || !this.bdfs.includes(bdf)) throw new GuestError('ENODEV', `no PCI device ${text} on this host (machine definition devices: ${this.bdfs.map(bdfText).join(', ') || 'none'})`, { domid });
    return bdf;
  }
}
