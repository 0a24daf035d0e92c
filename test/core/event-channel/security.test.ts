import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Host } from '../../../core/host/host.js';
import { DOMID_SELF, EVTCHNOP, XenErrno } from '../../../core/public/index.js';
import { vcpuOf } from '../../hypervisor/harness.js';
import {
  SCRATCH,
  allocUnbound,
  bindInterdomain,
  bindIpi,
  bindVcpu,
  bindVirq,
  bootHost,
  close,
  reset,
  send,
  snapshot,
  status,
  unmask,
} from './helpers.js';

const EPERM = -XenErrno.EPERM;
const EINVAL = -XenErrno.EINVAL;

/** Runs `refused` and checks it returns `errno` and leaves every listed domain's ports and shared-info page as they were. */
function expectRefusedWithoutEffect(host: Host, domids: number[], errno: number, refused: () => number): void {
  const before = domids.map((d) => snapshot(host, d));
  expect(refused()).toBe(errno);
  expect(domids.map((d) => snapshot(host, d))).toEqual(before);
}

describe('refusals leave both domains unchanged', () => {
  let host: Host;
  afterEach(async () => {
    await host?.shutdown();
  });

  async function setup(): Promise<{ lport: number; rport: number }> {
    host = await bootHost([{ name: 'attacker', type: 'pv' }, { name: 'victim', type: 'pv' }, { name: 'third', type: 'hvm' }]);
    // Some state to protect: a channel attacker ↔ victim, a port victim offers to the third domain, a VIRQ.
    const rport = allocUnbound(host, 2, DOMID_SELF, 1);
    const lport = bindInterdomain(host, 1, 2, rport);
    allocUnbound(host, 2, DOMID_SELF, 3);
    bindVirq(host, 2, 0, 0);
    return { lport, rport };
  }

  it('an unprivileged domain naming another domain in alloc_unbound, status or reset gets EPERM', async () => {
    await setup();
    expectRefusedWithoutEffect(host, [1, 2], EPERM, () => allocUnbound(host, 1, 2, 1));
    expectRefusedWithoutEffect(host, [1, 0], EPERM, () => allocUnbound(host, 1, 0, 1));
    expectRefusedWithoutEffect(host, [1, 2], EPERM, () => status(host, 1, 2, 1).rc);
    expectRefusedWithoutEffect(host, [1, 2], EPERM, () => reset(host, 1, 2));
    host.domains.pause(2);
    expectRefusedWithoutEffect(host, [1, 2], EPERM, () => reset(host, 1, 2));
  });

  it('a port the caller does not hold, or out of range, gets EINVAL', async () => {
    const { rport } = await setup();
    const victimOnly = 2; // open in the victim (offered to dom3), free in the attacker
    expectRefusedWithoutEffect(host, [1, 2], EINVAL, () => close(host, 1, victimOnly));
    expectRefusedWithoutEffect(host, [1, 2], EINVAL, () => send(host, 1, victimOnly));
    expectRefusedWithoutEffect(host, [1, 2], EINVAL, () => bindVcpu(host, 1, victimOnly, 0));
    for (const port of [1024, 4095, 4096, 0x10000, 0xffffffff]) {
      expectRefusedWithoutEffect(host, [1, 2], EINVAL, () => close(host, 1, port));
      expectRefusedWithoutEffect(host, [1, 2], EINVAL, () => send(host, 1, port));
      expectRefusedWithoutEffect(host, [1, 2], EINVAL, () => unmask(host, 1, port));
      expectRefusedWithoutEffect(host, [1, 2], EINVAL, () => status(host, 1, DOMID_SELF, port).rc);
    }
    expectRefusedWithoutEffect(host, [1, 2], EINVAL, () => close(host, 1, 0));
    expect(rport).toBe(1);
  });

  it('binding to a remote port not offered to the caller gets EINVAL', async () => {
    const { rport } = await setup();
    // Port 2 of the victim is offered to dom3, port 1 is connected, port 3 is a VIRQ, 500 is free, 5000 out of range.
    for (const port of [2, rport, 3, 500, 5000]) expectRefusedWithoutEffect(host, [1, 2, 3], EINVAL, () => bindInterdomain(host, 1, 2, port));
  });

  it('a global VIRQ on another vCPU, an IPI moved, or a per-vCPU VIRQ moved, get EINVAL', async () => {
    await setup();
    const ipi = bindIpi(host, 1, 0);
    expectRefusedWithoutEffect(host, [1], EINVAL, () => bindVcpu(host, 1, ipi, 0));
    expectRefusedWithoutEffect(host, [1], EINVAL, () => bindVirq(host, 1, 3, 1));
  });
});

describe('EVTCHNOP under random commands and op structs from random domains', () => {
  let host: Host;
  beforeAll(async () => {
    host = await bootHost([{ name: 'a', type: 'pv', vcpus: 2 }, { name: 'b', type: 'pvh' }, { name: 'c', type: 'hvm', vcpus: 2 }], 2);
    // Channels to play with: a ↔ b, c offers to a, b offers to c, a has a VIRQ and an IPI.
    const rport = allocUnbound(host, 2, DOMID_SELF, 1);
    bindInterdomain(host, 1, 2, rport);
    allocUnbound(host, 3, DOMID_SELF, 1);
    allocUnbound(host, 2, DOMID_SELF, 3);
    bindVirq(host, 1, 0, 1);
    bindIpi(host, 1, 1);
  });
  afterAll(async () => {
    await host.shutdown();
  });

  const ERRNOS = new Set<number>(Object.values(XenErrno));
  const DOMIDS = [0, 1, 2, 3];
  const domish = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, DOMID_SELF, 0x7ff4, 0xffff), fc.integer({ min: 0, max: 0xffff }));
  const small = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 8 }), weight: 3 }, fc.constantFrom(1023, 1024, 4095, 4096, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));
  /** Op structs: either random bytes, or fields that name real domains, ports, vCPUs and VIRQs at the usual offsets. */
  const opStruct = fc.oneof(
    fc.uint8Array({ minLength: 24, maxLength: 24 }),
    fc.tuple(domish, domish, small, small, small).map(([a, b, c, d, e]) => {
      const bytes = new Uint8Array(24);
      const v = new DataView(bytes.buffer);
      v.setUint16(0, a, true);
      v.setUint16(2, b, true);
      v.setUint32(4, c, true);
      v.setUint32(8, d, true);
      v.setUint32(12, e, true);
      return bytes;
    }),
    // bind_interdomain / status / reset / alloc_unbound naming a real domain and a low port.
    fc.tuple(fc.constantFrom(0, 1, 2, 3, DOMID_SELF), fc.constantFrom(0, 1, 2, 3, DOMID_SELF), fc.integer({ min: 1, max: 4 })).map(([a, b, c]) => {
      const bytes = new Uint8Array(24);
      const v = new DataView(bytes.buffer);
      v.setUint16(0, a, true);
      v.setUint16(2, b, true);
      v.setUint32(4, c, true);
      return bytes;
    }),
    // close / send / unmask / bind_vcpu / bind_virq / bind_ipi: a small port or VIRQ, then a vCPU.
    fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 2 })).map(([a, b]) => {
      const bytes = new Uint8Array(24);
      const v = new DataView(bytes.buffer);
      v.setUint32(0, a, true);
      v.setUint32(4, b, true);
      return bytes;
    }),
  );
  const cmd = fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, -1, 2 ** 32 - 1);
  const pointer = fc.oneof({ arbitrary: fc.constant(SCRATCH), weight: 6 }, { arbitrary: fc.constantFrom(SCRATCH + 4090, 16 * 2 ** 20 - 4, 2 ** 40, -8), weight: 1 });

  /** The domains a call may legitimately change: the caller, the peers of its interdomain ports, the remote it binds to, and (privileged callers) the domain it names. */
  function involved(caller: number, op: number, bytes: Uint8Array, privileged: boolean): Set<number> {
    const set = new Set([caller]);
    const dump = host.hypervisorSubsystems.find((s) => s.name === 'event-channel')!.dump!();
    const section = dump.split(/^(?=dom\d+ )/m).find((s) => s.startsWith(`dom${caller} `)) ?? '';
    for (const m of section.matchAll(/interdomain → dom(\d+):/g)) set.add(Number(m[1]));
    const v = new DataView(bytes.buffer);
    const dom = v.getUint16(0, true);
    if (op === EVTCHNOP.bind_interdomain) set.add(dom === DOMID_SELF ? caller : dom);
    if (privileged && (op === EVTCHNOP.alloc_unbound || op === EVTCHNOP.status || op === EVTCHNOP.reset)) {
      const target = dom === DOMID_SELF ? caller : dom;
      set.add(target);
      const targetSection = dump.split(/^(?=dom\d+ )/m).find((s) => s.startsWith(`dom${target} `)) ?? '';
      for (const m of targetSection.matchAll(/interdomain → dom(\d+):/g)) set.add(Number(m[1]));
    }
    return set;
  }

  it('never throws, returns ≥ 0 or a Xen errno, and changes no domain the call does not involve', () => {
    const succeeded = new Set<number>();
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3, 1, 2, 3, 0), fc.nat(1), cmd, opStruct, pointer, (caller, vcpu, op, bytes, addr) => {
        const v = vcpuOf(host, caller, Math.min(vcpu, host.domains.lookup(caller).vcpus.length - 1));
        if (addr === SCRATCH || addr === SCRATCH + 4090) v.guest.write(addr, bytes.subarray(0, Math.min(24, 16 * 2 ** 20 - addr)));
        const allowed = involved(caller, op, bytes, v.privileged);
        const before = DOMIDS.filter((d) => !allowed.has(d)).map((d) => [d, snapshot(host, d)] as const);
        let rc = 0;
        expect(() => (rc = host.dispatcher.dispatch(v, 32, [op, addr, 0, 0, 0]))).not.toThrow();
        expect(Number.isInteger(rc)).toBe(true);
        expect(rc >= 0 || ERRNOS.has(-rc)).toBe(true);
        if (rc === 0) succeeded.add(op);
        for (const [d, snap] of before) expect(snapshot(host, d), `dom${d} changed by dom${caller} EVTCHNOP ${op}`).toEqual(snap);
      }),
      { numRuns: 1000, seed: 20261121 },
    );
    // The generator reaches the operations themselves, not only their argument checks.
    for (const op of [EVTCHNOP.bind_interdomain, EVTCHNOP.bind_virq, EVTCHNOP.reset, EVTCHNOP.alloc_unbound, EVTCHNOP.send, EVTCHNOP.close, EVTCHNOP.status, EVTCHNOP.bind_ipi, EVTCHNOP.unmask]) expect(succeeded, `EVTCHNOP ${op}`).toContain(op);
  });
});
