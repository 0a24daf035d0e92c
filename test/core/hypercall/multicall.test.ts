import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { TraceKind, type TraceRecord } from '../../../core/engine/trace.js';
import { CONSOLEIO, DOMID_SELF, HVMOP, HVM_PARAM, Hypercall, XENVER, XenErrno } from '../../../core/public/index.js';
import { bootPlatformHost, call, hex, HVM, mem, platformOf, PV } from './platform-fixture.js';

let host: Host;
beforeAll(async () => {
  host = await bootPlatformHost();
});
afterAll(async () => {
  await host.shutdown();
});

const LIST = 0x10000;
const SENTINEL = 0x5555_5555;
/** Writes entries {op, args} at `at` in `domid`'s memory, each result preset to a sentinel. */
function writeList(domid: number, at: number, entries: [number, ...number[]][]): void {
  const g = mem(host, domid);
  entries.forEach(([op, ...args], i) => {
    const e = at + i * 64;
    g.write(e, new Uint8Array(64));
    g.writeU64(e, op);
    g.writeU64(e + 8, SENTINEL);
    args.forEach((a, j) => g.writeU64(e + 16 + 8 * j, a));
  });
}
const resultOf = (domid: number, i: number, at = LIST) => mem(host, domid).readU64(at + i * 64 + 8);

describe('multicall', () => {
  it('runs every entry through the dispatcher, writes each result, keeps going after failures, and returns 0', () => {
    const g = mem(host, HVM);
    g.write(0x20000, new TextEncoder().encode('batched\n'));
    writeList(HVM, LIST, [
      [Hypercall.xen_version, XENVER.version, 0],
      [Hypercall.xen_version, 99, 0],
      [Hypercall.multicall, LIST, 1],
      [Hypercall.hvm_op, HVMOP.get_time, 0x21000],
      [11],
      [Hypercall.domctl, 0x22000],
      [Hypercall.console_io, CONSOLEIO.write, 8, 0x20000],
    ]);
    expect(call(host, HVM, Hypercall.multicall, LIST, 7)).toBe(0);
    expect([0, 1, 2, 3, 4, 5, 6].map((i) => resultOf(HVM, i))).toEqual([0x40011, -XenErrno.ENOSYS, -XenErrno.EINVAL, 0, -XenErrno.ENOSYS, -XenErrno.EPERM, 0]);
    // A negative result is a u64 in two's complement.
    expect(hex(g.read(LIST + 64 + 8, 8))).toBe('da ff ff ff ff ff ff ff');
    // op and args are left as the guest wrote them (a release build does not poison entries).
    expect(g.readU64(LIST + 64)).toBe(Hypercall.xen_version);
    expect(g.readU64(LIST + 64 + 16)).toBe(99);
    expect(g.readU64(0x21000)).toBeGreaterThan(0);
    expect(platformOf(host).console.lines()).toContain(`(d${HVM}) batched`);
  });

  it('traces the multicall and each entry as hypercalls, and charges each', () => {
    writeList(HVM, LIST, [
      [Hypercall.xen_version, XENVER.version, 0],
      [Hypercall.xen_version, XENVER.pagesize, 0],
    ]);
    const recs: TraceRecord[] = [];
    const stop = host.engine.trace.subscribe((r) => recs.push({ ...r }));
    expect(call(host, HVM, Hypercall.multicall, LIST, 2)).toBe(0);
    stop();
    expect(recs.filter((r) => r.kind === TraceKind.Hypercall).map((r) => [r.a, r.b, r.c])).toEqual([
      [17, 0, 0x40011],
      [17, 7, 4096],
      [13, 0, 0],
    ]);
  });

  it('runs nothing and returns EFAULT when the list is not readable to its end', () => {
    const end = 16 * 2 ** 20;
    writeList(HVM, end - 128, [
      [Hypercall.hvm_op, HVMOP.set_param, 0x23000],
      [Hypercall.xen_version, XENVER.version, 0],
    ]);
    const g = mem(host, HVM);
    g.write(0x23000, new Uint8Array(16));
    g.writeU16(0x23000, DOMID_SELF);
    g.writeU32(0x23004, HVM_PARAM.STORE_EVTCHN);
    g.writeU64(0x23008, 7);
    expect(call(host, HVM, Hypercall.multicall, end - 128, 3)).toBe(-XenErrno.EFAULT);
    expect(host.hvmParamsOf(HVM)!.get(HVM_PARAM.STORE_EVTCHN)).toBe(0n);
    expect(resultOf(HVM, 0, end - 128)).toBe(SENTINEL);
    expect(call(host, HVM, Hypercall.multicall, LIST, 0xffff_ffff)).toBe(-XenErrno.EFAULT);
    expect(call(host, HVM, Hypercall.multicall, 2 ** 40, 1)).toBe(-XenErrno.EFAULT);
  });

  it('an empty list is fine', () => {
    expect(call(host, HVM, Hypercall.multicall, 0, 0)).toBe(0);
  });

  it('for PV, an iret entry ends the list and its result is the multicall’s', () => {
    writeList(PV, LIST, [
      [Hypercall.xen_version, XENVER.version, 0],
      [Hypercall.iret],
      [Hypercall.xen_version, XENVER.version, 0],
    ]);
    const rc = call(host, PV, Hypercall.multicall, LIST, 3);
    expect(rc).toBe(resultOf(PV, 1));
    expect(rc).toBeLessThan(0);
    expect(resultOf(PV, 0)).toBe(0x40011);
    expect(resultOf(PV, 2)).toBe(SENTINEL);
  });

  it('leaves no reentry flag behind: a multicall after a nested one works', () => {
    writeList(HVM, LIST, [[Hypercall.multicall, LIST, 1]]);
    expect(call(host, HVM, Hypercall.multicall, LIST, 1)).toBe(0);
    expect(resultOf(HVM, 0)).toBe(-XenErrno.EINVAL);
    writeList(HVM, LIST, [[Hypercall.xen_version, XENVER.version, 0]]);
    expect(call(host, HVM, Hypercall.multicall, LIST, 1)).toBe(0);
    expect(resultOf(HVM, 0)).toBe(0x40011);
  });
});
