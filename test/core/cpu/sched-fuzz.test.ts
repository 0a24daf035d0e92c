import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Host } from '../../../core/host/host.js';
import type { MemoryLogSink } from '../../../core/api/log.js';
import { Hypercall, DOMID_SELF } from '../../../core/public/xen.js';
import { SCHEDOP } from '../../../core/public/sched.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import { installFakeEventChannels } from './sched-helpers.js';

let host: Host;
let logs: MemoryLogSink;
const GUEST_BYTES = 16 * 2 ** 20;

beforeAll(async () => {
  ({ host, logs } = await bootTestHost({ cpus: 2, guests: [{ name: 'pvh', type: 'pvh', vcpus: 2 }, { name: 'pv', type: 'pv', vcpus: 2 }, { name: 'hvm', type: 'hvm', vcpus: 2 }] }));
  installFakeEventChannels(host);
});
afterAll(async () => {
  await host.shutdown();
});

/** What a sched_op / vcpu_op of another domain must not change: state, vCPUs, registers, shared-info page. */
function fingerprint(domid: number): string {
  const d = host.domains.lookup(domid);
  const shared = host.sharedInfoOf(domid)!;
  let h = 0x811c9dc5;
  for (const b of shared.bytes) h = Math.imul(h ^ b, 0x01000193);
  return JSON.stringify([
    d.state,
    d.shutdownReason,
    d.pauseCount,
    d.vcpus.map((v) => [v.isUp, v.hasProgram, v.hardAffinity.toArray(), v.context.snapshot(), shared.hasRegisteredVcpuInfo(v.vcpuId)]),
    h >>> 0,
  ]);
}

const arg = fc.oneof(
  fc.integer({ min: 0, max: 16 }),
  fc.constantFrom(0, 1, 2, 3, DOMID_SELF, 0x7ff4, 0xffff, 0xffffffff, -1, 2 ** 53 - 1),
  fc.integer({ min: 0, max: GUEST_BYTES - 1 }),
  fc.integer({ min: GUEST_BYTES, max: 2 ** 40 }),
  fc.double({ noNaN: false }),
);

describe('sched_op / vcpu_op / set_timer_op under random calls', () => {
  it('never throw, always return an integer, and leave other domains alone (except Dom0 remote_shutdown)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 2, 3),
        fc.constantFrom(0, 1),
        fc.constantFrom(Hypercall.sched_op, Hypercall.vcpu_op, Hypercall.set_timer_op),
        fc.integer({ min: -1, max: 15 }),
        fc.array(arg, { minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 16, maxLength: 256 }),
        fc.integer({ min: 0, max: 64 }),
        (domid, vcpu, nr, cmd, rest, bytes, page) => {
          const d = host.domains.lookup(domid);
          const v = vcpuOf(host, domid, Math.min(vcpu, d.vcpus.length - 1));
          const addr = page * 4096;
          try {
            v.guest.write(addr, bytes);
          } catch {
            // paging turned on by an earlier random VCPUOP_initialise: the call gets whatever is there
          }
          const args =
            nr === Hypercall.vcpu_op ? [cmd, rest[0]! % 3, addr, rest[1]!, rest[2]!] : nr === Hypercall.set_timer_op ? [rest[3]!, 0, 0, 0, 0] : [cmd, addr, rest[0]!, rest[1]!, rest[2]!];
          const others = [0, 1, 2, 3].filter((x) => x !== domid);
          const before = others.map(fingerprint);
          const result = host.dispatcher.dispatch(v, nr, args);
          expect(Number.isInteger(result)).toBe(true);
          const mayTouchOthers = domid === 0 && nr === Hypercall.sched_op && cmd === SCHEDOP.remote_shutdown;
          if (!mayTouchOthers) expect(others.map(fingerprint)).toEqual(before);
        },
      ),
      { numRuns: 400, seed: 7 },
    );
    host.runFor(50_000_000);
    // Every failure was a GuestError (an errno), never a handler bug turned into EFAULT.
    expect(logs.lines('error').filter((l) => l.includes('handler threw') || l.includes('hook failed'))).toEqual([]);
  });
});
