/** A PV guest cannot give back a frame its page tables still map: another domain would get a frame the guest still reaches. */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import { DOMID_SELF, Hypercall, PAGE_SIZE, PTE_P, PTE_US, XENMEM, XenMemoryReservation } from '../../../core/public/index.js';
import { buildPvDomain, entryAddr, mmuUpdate, pte, type PvDomain } from './helpers.js';

let host: Host;
let a: PvDomain;
const RO = PTE_P | PTE_US;
const ARG = 0x12000;
const LIST = 0x13000;

beforeEach(async () => {
  ({ host } = await bootTestHost());
  a = buildPvDomain(host, 256);
});
afterEach(async () => {
  await host.shutdown();
});

/** decrease_reservation of pseudo-physical frame `pfn`'s machine frame (a PV guest names MFNs); returns the extents done. */
function giveBack(pfn: number): number {
  const g = vcpuOf(host, a.domid).guest;
  g.writeU64(LIST, a.mfns[pfn]!);
  g.write(ARG, new Uint8Array(XenMemoryReservation.size));
  g.writeU64(ARG + XenMemoryReservation.extentStart, LIST);
  g.writeU64(ARG + XenMemoryReservation.nrExtents, 1);
  g.writeU16(ARG + XenMemoryReservation.domid, DOMID_SELF);
  return host.dispatcher.dispatch(vcpuOf(host, a.domid), Hypercall.memory_op, [XENMEM.decrease_reservation, ARG]);
}

it('keeps a frame mapped read-only elsewhere, and releases it once the last mapping goes', () => {
  // VA of pfn 30 now also maps pfn 31's frame, read-only; pfn 31's own mapping is removed.
  expect(mmuUpdate(host, a.domid, [[entryAddr(a.l1s[0]!, 30), pte(a.mfns[31]!, RO)], [entryAddr(a.l1s[0]!, 31), [0, 0]]]).rc).toBe(0);
  const before = host.domains.lookup(a.domid).totPages;
  expect(giveBack(31)).toBe(0);
  expect(host.memory.ownerOf(a.mfns[31]! as never)).toBe(a.domid);
  expect(host.domains.lookup(a.domid).totPages).toBe(before);
  // A page table frame cannot be given back either.
  expect(giveBack(255)).toBe(0);
  // Unmapped, it goes back to the host.
  expect(mmuUpdate(host, a.domid, [[entryAddr(a.l1s[0]!, 30), [0, 0]]]).rc).toBe(0);
  expect(giveBack(31)).toBe(1);
  expect(host.memory.ownerOf(a.mfns[31]! as never)).toBeUndefined();
  expect(host.domains.lookup(a.domid).totPages).toBe(before - 1);
});

it('the 1:1 map holds every frame until the guest unmaps it, as a PV balloon driver must', () => {
  expect(giveBack(40)).toBe(0);
  expect(mmuUpdate(host, a.domid, [[entryAddr(a.l1s[0]!, 40), [0, 0]]]).rc).toBe(0);
  expect(giveBack(40)).toBe(1);
  expect(() => vcpuOf(host, a.domid).guest.readU32(40 * PAGE_SIZE)).toThrow();
});
