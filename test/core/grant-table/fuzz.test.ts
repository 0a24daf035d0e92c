import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Host } from '../../../core/host/host.js';
import type { MemoryLogSink } from '../../../core/api/log.js';
import { XenErrno } from '../../../core/public/errno.js';
import { GNTMAP, GTF } from '../../../core/public/grant-table.js';
import { DOMID_SELF } from '../../../core/public/xen.js';
import { domId, grantRef } from '../../../core/public/types.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import { OPS, gnttabOp, grantTables, guestGrant, mapOwnTable, memoryDigest, mfnOfGfn } from './helpers.js';

let host: Host;
let logs: MemoryLogSink;
const ERRNOS = new Set<number>(Object.values(XenErrno));
/** dom1 grants gfn 0x100 writable to dom2 (ref 8) and read-only to dom0 (ref 9). */
const GRANTED_GFN = 0x100;

beforeAll(async () => {
  ({ host, logs } = await bootTestHost({ guests: [{ name: 'granter' }, { name: 'mapper', type: 'hvm' }] }));
  mapOwnTable(host, 1);
  guestGrant(host, 1, 8, 2, GRANTED_GFN);
  guestGrant(host, 1, 9, 0, GRANTED_GFN, GTF.permit_access | GTF.readonly);
});
afterAll(async () => {
  await host?.shutdown();
});

const u16 = fc.oneof(fc.constantFrom(0, 1, 2, 3, DOMID_SELF, 0xffff), fc.integer({ min: 0, max: 0xffff }));
const ref = fc.oneof(fc.constantFrom(0, 1, 8, 9, 511, 512), fc.integer({ min: 0, max: 0xffffffff }));
const addr = fc.oneof(fc.constantFrom(0, 0x3000 * 4096, 0x200 * 4096, OPS, 2 ** 48, 0x4000_1000), fc.integer({ min: 0, max: 2 ** 40 }).map((n) => n * 4096));
/** One op struct's bytes: a map, unmap or copy shape with plausible fields, or noise. */
const opBytes = fc.oneof(
  fc.tuple(addr, fc.integer({ min: 0, max: 0x3f }), ref, u16).map(([a, flags, r, dom]) => {
    const b = new DataView(new ArrayBuffer(40));
    b.setBigUint64(0, BigInt(a), true);
    b.setUint32(8, flags | (flags & 1 ? 0 : GNTMAP.host_map), true);
    b.setUint32(12, r, true);
    b.setUint16(16, dom, true);
    return new Uint8Array(b.buffer);
  }),
  fc.tuple(ref, u16, fc.integer({ min: 0, max: 4200 }), ref, u16, fc.integer({ min: 0, max: 4200 }), fc.integer({ min: 0, max: 4200 }), fc.integer({ min: 0, max: 3 })).map(([s, sd, so, d, dd, doff, len, flags]) => {
    const b = new DataView(new ArrayBuffer(40));
    b.setUint32(0, s, true);
    b.setUint16(8, sd, true);
    b.setUint16(10, so & 0xffff, true);
    b.setUint32(16, d, true);
    b.setUint16(24, dd, true);
    b.setUint16(26, doff & 0xffff, true);
    b.setUint16(32, len, true);
    b.setUint16(34, flags, true);
    return new Uint8Array(b.buffer);
  }),
  fc.uint8Array({ minLength: 40, maxLength: 40 }),
);
const call = fc.record({
  caller: fc.constantFrom(0, 1, 2),
  cmd: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: -5, max: 0x20000 })),
  count: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -3, max: 1 << 20 })),
  ops: fc.array(opBytes, { minLength: 3, maxLength: 3 }),
  addr: fc.oneof(fc.constant(OPS), fc.integer({ min: -10, max: 2 ** 50 })),
});

describe('HYPERVISOR_grant_table_op under random input', () => {
  it('never throws, returns ≥ 0 or −errno, and changes no other domain except through a valid grant', () => {
    const granted = mfnOfGfn(host, 1, GRANTED_GFN);
    const tableFrames = [host.p2mOf(1)!.mfnOf(0x2000 as never)];
    fc.assert(
      fc.property(call, ({ caller, cmd, count, ops, addr }) => {
        const g = vcpuOf(host, caller).guest;
        ops.forEach((b, i) => g.write(OPS + i * 40, b));
        const others = [0, 1, 2].filter((d) => d !== caller);
        // A writable grant lets dom2 change dom1's granted page; grant-table frames carry Xen's flags.
        const skip = (d: number) => [mfnOfGfn(host, d, OPS / 4096), ...(d === 1 ? [...tableFrames, ...(caller === 2 ? [granted] : [])] : [])];
        const before = others.map((d) => [memoryDigest(host, d, skip(d)), host.p2mOf(d)!.dump()]);
        const rc = gnttabOp(host, caller, cmd, addr, count);
        expect(Number.isInteger(rc)).toBe(true);
        if (rc < 0) expect(ERRNOS.has(-rc)).toBe(true);
        expect(others.map((d) => [memoryDigest(host, d, skip(d)), host.p2mOf(d)!.dump()])).toEqual(before);
      }),
      { numRuns: 150, seed: 42 },
    );
    expect(logs.lines('error')).toEqual([]);
    // Whatever the run left mapped, tearing the mapper down leaves the granter's entries unpinned.
    host.domains.destroy(2);
    for (const mapping of grantTables(host).activeMappings(domId(1))) expect(mapping.mapper).toBe(0);
    expect(grantTables(host).entry(domId(1), grantRef(8))!.flags & (GTF.reading | GTF.writing)).toBe(0);
  }, 60_000);
});
