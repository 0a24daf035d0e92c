import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DOMID_SELF, NR_HYPERCALLS, PAGE_SIZE } from '../../core/public/index.js';
import { machineFrame } from '../../core/public/types.js';
import type { Host } from '../../core/host/host.js';
import { bootTestHost, vcpuOf } from './harness.js';

/** A fingerprint of everything of `domid` that another domain must not be able to change. */
function fingerprint(host: Host, domid: number): string {
  const d = host.domains.lookup(domid);
  const p2m = host.p2mOf(domid)!;
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    h = Math.imul(h ^ (x | 0), 0x01000193);
  };
  const frames: number[] = [];
  for (let gfn = 0; gfn < d.maxPages; gfn++) {
    const mfn = p2m.mfnOf(gfn as never);
    mix(mfn);
    if (mfn >= 0) frames.push(mfn);
  }
  frames.push(host.sharedInfoOf(domid)!.mfn);
  for (const mfn of frames) {
    if (!host.memory.isBacked(machineFrame(mfn))) continue;
    const words = host.memory.frameWords(machineFrame(mfn));
    for (let i = 0; i < words.length; i++) mix(words[i]!);
  }
  return [d.state, d.totPages, d.maxPages, d.pauseCount, d.vcpus.map((v) => v.isUp).join(), (h >>> 0).toString(16)].join('/');
}

let host: Host;
const GUEST_BYTES = 16 * 2 ** 20;

beforeAll(async () => {
  ({ host } = await bootTestHost({ cpus: 2, guests: [{ name: 'attacker', type: 'pvh' }, { name: 'victim-pvh', type: 'pvh' }, { name: 'victim-hvm', type: 'hvm' }] }));
});
afterAll(async () => {
  await host.shutdown();
});

/** Arguments that hit interesting places: small numbers, other domids, addresses in and beyond guest memory. */
const arg = fc.oneof(
  fc.integer({ min: 0, max: 64 }),
  fc.constantFrom(0, 1, 2, 3, DOMID_SELF, 0x7ff4, 0xffff, 0xffffffff),
  fc.integer({ min: 0, max: GUEST_BYTES - 1 }).map((a) => a & ~7),
  fc.integer({ min: GUEST_BYTES, max: 2 ** 40 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
);

describe('the hypercall dispatcher under random calls from an unprivileged guest', () => {
  it('never throws, always returns an integer, and leaves every other domain as it was', () => {
    const attacker = vcpuOf(host, 1);
    const before = [0, 2, 3].map((d) => fingerprint(host, d));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: NR_HYPERCALLS - 1 }),
        fc.array(arg, { minLength: 5, maxLength: 5 }),
        fc.uint8Array({ minLength: 64, maxLength: 256 }),
        fc.integer({ min: 0, max: GUEST_BYTES / PAGE_SIZE - 1 }),
        (nr, args, bytes, page) => {
          // Whatever structure the call reads, put random bytes where its pointers are likely to point.
          attacker.guest.write(page * PAGE_SIZE, bytes);
          for (const a of args) if (a >= 0 && a + bytes.length <= GUEST_BYTES) attacker.guest.write(a, bytes);
          let result: number | undefined;
          expect(() => (result = host.dispatcher.dispatch(attacker, nr, args))).not.toThrow();
          expect(Number.isInteger(result)).toBe(true);
        },
      ),
      { numRuns: 1500, seed: 20261121 },
    );
    expect([0, 2, 3].map((d) => fingerprint(host, d))).toEqual(before);
  });
});
