import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Host } from '../../../core/host/host.js';
import type { MemoryLogSink } from '../../../core/api/log.js';
import { DOMID_SELF, XenAddToPhysmap, XenMemoryReservation } from '../../../core/public/index.js';
import { guestFrame } from '../../../core/public/types.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import { ARG, LIST, memoryOp, snapshot, framesConserved } from './memory-op-helpers.js';

let host: Host;
let logs: MemoryLogSink;
beforeAll(async () => {
  ({ host, logs } = await bootTestHost({ guests: [{ name: 'a', memory: 4 }, { name: 'p', type: 'pv', memory: 4 }, { name: 'h', type: 'hvm', memory: 4 }] }));
});
afterAll(async () => {
  await host?.shutdown();
});

/** Small GFNs, skipping the two scratch pages so a run cannot unmap its own arguments. */
const gfn = fc.integer({ min: 0, max: 0x1400 }).map((n) => (n >= ARG / 4096 ? n + 2 : n));
/** Real sub-ops (no continuation) most of the time, anything else sometimes. */
const SUB_OPS = [0, 1, 2, 3, 4, 6, 7, 9, 10, 13, 14, 15];
const call = fc.record({
  caller: fc.constantFrom(0, 1, 2, 3),
  op: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...SUB_OPS) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 32 }) }),
  bytes: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  list: fc.array(gfn, { maxLength: 6 }),
  shape: fc.constantFrom('random', 'reservation', 'reservation', 'physmap'),
  order: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 12 })),
  domid: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(DOMID_SELF, 0, 1, 2, 3) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
  idx: gfn,
  gpfn: gfn,
  space: fc.integer({ min: 0, max: 6 }),
});

describe('memory_op through the real dispatcher, with random commands and structs from random domains', () => {
  it('never throws (not even inside the handler), returns integers, leaves other domains alone (when unprivileged) and conserves frames', () => {
    fc.assert(
      fc.property(call, (c) => {
        const g = vcpuOf(host, c.caller).guest;
        const p2m = host.p2mOf(c.caller)!;
        if (p2m.lookup(guestFrame(ARG / 4096)) === undefined || p2m.lookup(guestFrame(LIST / 4096)) === undefined) return;
        const bytes = c.bytes.slice();
        const view = new DataView(bytes.buffer);
        if (c.shape === 'reservation') {
          view.setBigUint64(XenMemoryReservation.extentStart, BigInt(LIST), true);
          view.setBigUint64(XenMemoryReservation.nrExtents, BigInt(c.list.length), true);
          view.setUint32(XenMemoryReservation.extentOrder, c.order, true);
          view.setUint16(XenMemoryReservation.domid, c.domid, true);
        } else if (c.shape === 'physmap') {
          view.setUint16(XenAddToPhysmap.domid, c.domid, true);
          view.setUint32(XenAddToPhysmap.space, c.space, true);
          view.setBigUint64(XenAddToPhysmap.idx, BigInt(c.idx), true);
          view.setBigUint64(XenAddToPhysmap.gpfn, BigInt(c.gpfn), true);
        }
        g.write(ARG, bytes);
        c.list.forEach((n, i) => g.writeU64(LIST + i * 8, n));
        const others = host.domains.list().filter((d) => d.domid !== c.caller);
        const before = others.map((d) => snapshot(host, d.domid));
        const result = memoryOp(host, c.caller, c.op, ARG);
        expect(Number.isInteger(result)).toBe(true);
        // The dispatcher turns an unexpected exception into −EFAULT and logs it: none may happen.
        expect(logs.lines('error').filter((l) => l.includes('memory_op'))).toEqual([]);
        if (c.caller !== 0) expect(others.map((d) => snapshot(host, d.domid))).toEqual(before);
        expect(framesConserved(host)).toBe(true);
      }),
      { numRuns: 250, seed: 0x5eed },
    );
  });
});
