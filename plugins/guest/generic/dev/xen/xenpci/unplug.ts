/**
 * The emulated-device unplug protocol (xen docs/misc/hvm-emulated-unplug.pandoc; FreeBSD's
 * xen_hvm_disable_emulated_devices): fixed ISA ports 0x10-0x13, present only beside the Xen platform
 * PCI device. Once the PV drivers are going to drive the disks and NICs, the emulated ones must go.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../../core/api/index.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

export const XEN_IOPORT_MAGIC = 0x10;
export const XEN_IOPORT_UNPLUG = 0x10;
export const XEN_IOPORT_DRVVER = 0x10;
export const XEN_IOPORT_VERSION = 0x12;
export const XEN_IOPORT_PRODNUM = 0x12;
export const XMI_MAGIC = 0x49d2;
/** Read back from the magic port after a blacklisted product/build registration. */
export const XMI_BLACKLISTED = 0xd249;
/** Unplug mask bits. */
export const XMI_UNPLUG_IDE_DISKS = 0x1;
export const XMI_UNPLUG_NICS = 0x2;
export const XMI_UNPLUG_AUX_IDE_DISKS = 0x4;
export const XMI_UNPLUG_NVME_DISKS = 0x8;
/** Product number 0xffff: "experimental" in the registry of the unplug document. */
export const XEN_IOPORT_PRODNUM_EXPERIMENTAL = 0xffff;

/** What the protocol ended with. */
export type UnplugResult =
  | { readonly unplugged: number; readonly protocol: number }
  | { readonly skipped: string };

/**
 * Runs the protocol: check the magic, read the version; version ≥ 1 registers product and build
 * (a blacklisted driver must not unplug); then writes the mask.
 */
export function* xenUnplugEmulatedDevices(v: VcpuApi, mask: number, build: number): Gen<UnplugResult> {
  const magic = yield* v.inPort(XEN_IOPORT_MAGIC, 2);
  if (magic !== XMI_MAGIC) return { skipped: `no unplug protocol (magic 0x${magic.toString(16)} at port 0x10)` };
  const protocol = yield* v.inPort(XEN_IOPORT_VERSION, 1);
  if (protocol >= 1) {
    yield* v.outPort(XEN_IOPORT_PRODNUM, 2, XEN_IOPORT_PRODNUM_EXPERIMENTAL);
    yield* v.outPort(XEN_IOPORT_DRVVER, 4, build);
    if ((yield* v.inPort(XEN_IOPORT_MAGIC, 2)) === XMI_BLACKLISTED) return { skipped: `drivers blacklisted by the device model (build ${build})` };
  }
  yield* v.outPort(XEN_IOPORT_UNPLUG, 2, mask);
  return { unplugged: mask, protocol };
}
