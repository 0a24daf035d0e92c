/** Helpers for the memory_op tests: write argument structs into a domain's memory and make the hypercall through the real dispatcher. */
import type { Host } from '../../../core/host/host.js';
import { Hypercall, XenAddToPhysmap, XenMemoryReservation, XenRemoveFromPhysmap, DOMID_SELF } from '../../../core/public/index.js';
import type { DomId } from '../../../core/public/types.js';
import { vcpuOf } from '../../hypervisor/harness.js';

/** Guest-physical scratch addresses inside every test domain's first MiB. */
export const ARG = 0x10000;
export const LIST = 0x11000;

/** memory_op(cmd, addr) from `domid`'s vCPU 0. */
export function memoryOp(host: Host, domid: number, cmd: number, addr = ARG): number {
  return host.dispatcher.dispatch(vcpuOf(host, domid), Hypercall.memory_op, [cmd, addr]);
}

/** Writes a xen_memory_reservation at ARG with its extent list at LIST. */
export function writeReservation(host: Host, caller: number, r: { extents: number[]; order?: number; flags?: number; domid?: number; nrExtents?: number }): void {
  const g = vcpuOf(host, caller).guest;
  r.extents.forEach((e, i) => g.writeU64Big(LIST + i * 8, BigInt(e)));
  g.writeU64(ARG + XenMemoryReservation.extentStart, LIST);
  g.writeU64(ARG + XenMemoryReservation.nrExtents, r.nrExtents ?? r.extents.length);
  g.writeU32(ARG + XenMemoryReservation.extentOrder, r.order ?? 0);
  g.writeU32(ARG + XenMemoryReservation.memFlags, r.flags ?? 0);
  g.writeU16(ARG + XenMemoryReservation.domid, r.domid ?? DOMID_SELF);
}

/** Writes a xen_add_to_physmap at ARG. */
export function writeAddToPhysmap(host: Host, caller: number, a: { domid?: number; space: number; idx: number; gpfn: number; size?: number }): void {
  const g = vcpuOf(host, caller).guest;
  g.writeU16(ARG + XenAddToPhysmap.domid, a.domid ?? DOMID_SELF);
  g.writeU16(ARG + XenAddToPhysmap.rangeSize, a.size ?? 0);
  g.writeU32(ARG + XenAddToPhysmap.space, a.space);
  g.writeU64(ARG + XenAddToPhysmap.idx, a.idx);
  g.writeU64(ARG + XenAddToPhysmap.gpfn, a.gpfn);
}

/** Writes a xen_remove_from_physmap at ARG. */
export function writeRemoveFromPhysmap(host: Host, caller: number, domid: number, gpfn: number): void {
  const g = vcpuOf(host, caller).guest;
  g.writeU16(ARG + XenRemoveFromPhysmap.domid, domid);
  g.writeU64(ARG + XenRemoveFromPhysmap.gpfn, gpfn);
}

/** Everything memory_op could change about a domain, for before/after comparisons. */
export function snapshot(host: Host, domid: number): { p2m: string; tot: number; max: number; frames: number } {
  const d = host.domains.lookup(domid);
  return { p2m: host.p2mOf(domid)!.dump(), tot: d.totPages, max: d.maxPages, frames: host.memory.framesOf(d.domid) };
}

/** Frames are conserved: free + every owner's frames (domains, Xen's page tables, ...) = total. */
export function framesConserved(host: Host): boolean {
  let owned = 0;
  for (let owner = 0; owner <= 0x7fff; owner++) owned += host.memory.framesOf(owner as DomId);
  return owned + host.memory.freeFrames === host.memory.totalFrames;
}
