/** PCI passthrough: moving the host's PCI devices between Dom0 and guests (XEN_DOMCTL_assign_device). */
import type { DomId } from '../public/types.js';
import { token } from './tokens.js';

/** A host PCI device (the machine definition's `devices`) and the domain its DMA belongs to now. */
export interface HostPciDevice {
  /** `DDDD:BB:DD.F`, as xenstore's `dev-N` holds it. */
  readonly bdf: string;
  readonly owner: DomId;
}

/**
 * The host's PCI devices belong to Dom0 (pciback holds them assignable) until a toolstack assigns one
 * to a guest; its DMA is then translated by the guest's P2M through the IOMMU. A destroyed guest's
 * devices go back to Dom0. Errors are `GuestError`s with Xen's errno.
 */
export interface PciAssignment {
  devices(): HostPciDevice[];
  /** XEN_DOMCTL_assign_device: `bdf` moves from Dom0 to `domid`. ENODEV: no such device; EBUSY: another guest holds it. */
  assign(bdf: string, domid: number): void;
  /** XEN_DOMCTL_deassign_device: `bdf` goes back from `domid` to Dom0. EINVAL when `domid` does not hold it. */
  deassign(bdf: string, domid: number): void;
}
export const PciAssignment = token<PciAssignment>('PciAssignment');

/** A passthrough spec's address as `DDDD:BB:DD.F` (what {@link PciAssignment} and xenstore's `dev-N` take). */
export { formatBdf as formatPciAddress } from '../config/pcispec.js';
