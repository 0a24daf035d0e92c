import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Host } from '../../../core/host/host.js';
import { DOMID_SELF, HVM_NR_PARAMS, Hypercall, PAGE_SIZE } from '../../../core/public/index.js';
import { machineFrame } from '../../../core/public/types.js';
import { vcpuOf } from '../../hypervisor/harness.js';
import { bootPlatformHost, DOM0, errorsOf, HVM, PV, PVH } from './platform-fixture.js';

/** Everything of `domid` another domain must not change: state, P2M, the bytes of its frames, its HVM params. */
function fingerprint(host: Host, domid: number): string {
  const d = host.domains.lookup(domid);
  const p2m = host.p2mOf(domid)!;
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    h = Math.imul(h ^ (x | 0), 0x01000193);
  };
  const frames: number[] = [host.sharedInfoOf(domid)!.mfn];
  for (let gfn = 0; gfn < d.maxPages; gfn++) {
    const mfn = p2m.mfnOf(gfn as never);
    mix(mfn);
    if (mfn >= 0) frames.push(mfn);
  }
  for (const mfn of frames) {
    if (!host.memory.isBacked(machineFrame(mfn))) continue;
    const words = host.memory.frameWords(machineFrame(mfn));
    for (let i = 0; i < words.length; i++) mix(words[i]!);
  }
  const params = Array.from({ length: HVM_NR_PARAMS }, (_, i) => host.hvmParamsOf(domid)!.get(i).toString(16));
  return [d.state, d.totPages, d.pauseCount, (h >>> 0).toString(16), params.join(',')].join('/');
}

let host: Host;
const GUEST_BYTES = 16 * 2 ** 20;
beforeAll(async () => {
  host = await bootPlatformHost();
});
afterAll(async () => {
  await host.shutdown();
});

const MINE = [Hypercall.multicall, Hypercall.xen_version, Hypercall.console_io, Hypercall.hvm_op];
/** Arguments that hit interesting places: sub-op numbers, domids, addresses in and beyond guest memory. */
const arg = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.constantFrom(0, 1, 2, 3, DOMID_SELF, 0x7ff4, 0xffff, 0xffffffff, 2 ** 32),
  fc.integer({ min: 0, max: GUEST_BYTES - 1 }).map((a) => a & ~7),
  fc.integer({ min: GUEST_BYTES - 256, max: GUEST_BYTES + 256 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
);
/** A multicall entry: one of our hypercalls (or a neighbour) with random arguments. */
const entry = fc.tuple(fc.constantFrom(...MINE, 11, 35, 36, 63, 64), fc.array(arg, { minLength: 6, maxLength: 6 }));

describe.each([
  ['an HVM guest', HVM],
  ['a PVH guest', PVH],
  ['a PV guest', PV],
])('multicall, xen_version, console_io and hvm_op under random arguments from %s', (_, caller) => {
  it('never throw, always return an integer, and change no other domain’s memory or params', () => {
    const v = vcpuOf(host, caller);
    const others = [DOM0, HVM, PVH, PV].filter((d) => d !== caller);
    const before = others.map((d) => fingerprint(host, d));
    fc.assert(
      fc.property(
        fc.constantFrom(...MINE),
        fc.array(arg, { minLength: 5, maxLength: 5 }),
        fc.uint8Array({ minLength: 16, maxLength: 128 }),
        fc.array(entry, { maxLength: 6 }),
        fc.integer({ min: 0, max: GUEST_BYTES / PAGE_SIZE - 1 }),
        (nr, args, bytes, entries, page) => {
          // Random bytes where pointers are likely to point; a well-formed multicall list at the first pointer.
          for (const a of args) if (a >= 0 && a + bytes.length <= GUEST_BYTES) v.guest.write(a, bytes);
          v.guest.write(page * PAGE_SIZE, bytes);
          const list = args[1]!;
          if (nr === Hypercall.multicall && list >= 0 && list + entries.length * 64 <= GUEST_BYTES) {
            entries.forEach(([op, a], i) => {
              v.guest.writeU64(list + i * 64, op);
              a.forEach((x, j) => v.guest.writeU64(list + i * 64 + 16 + 8 * j, x));
            });
            args[0] = list;
            args[1] = entries.length;
          }
          let result: number | undefined;
          expect(() => (result = host.dispatcher.dispatch(v, nr, args))).not.toThrow();
          expect(Number.isInteger(result)).toBe(true);
        },
      ),
      { numRuns: 400, seed: 20260317 + caller },
    );
    expect(others.map((d) => fingerprint(host, d))).toEqual(before);
    // Every failure was a GuestError: no handler threw anything else (the dispatcher logs those).
    expect(errorsOf(host)).toEqual([]);
  });
});
