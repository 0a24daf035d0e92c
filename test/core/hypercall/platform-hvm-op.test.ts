import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { container as rootContainer } from 'tsyringe';
import type { Host } from '../../../core/host/host.js';
import type { HypervisorContext } from '../../../core/host/subsystem.js';
import { EventChannels } from '../../../core/api/event-channel.js';
import { makeHvmOp, checkCallbackIrq } from '../../../core/hypercall/hvm-op.js';
import { DOMID_SELF, HVMOP, HVM_PARAM, HVM_NR_PARAMS, Hypercall, XenErrno } from '../../../core/public/index.js';
import { vcpuOf } from '../../hypervisor/harness.js';
import { bootPlatformHost, call, DOM0, HVM, mem, PV, PVH } from './platform-fixture.js';

let host: Host;
beforeAll(async () => {
  host = await bootPlatformHost();
});
afterAll(async () => {
  await host.shutdown();
});

const ARG = 0x9000;
const vector = (v: number) => (2n << 56n) | BigInt(v);
function setParam(caller: number, domid: number, index: number, value: bigint): number {
  const g = mem(host, caller);
  g.write(ARG, new Uint8Array(16));
  g.writeU16(ARG, domid);
  g.writeU32(ARG + 4, index);
  g.writeU64Big(ARG + 8, value);
  return call(host, caller, Hypercall.hvm_op, HVMOP.set_param, ARG);
}
function getParam(caller: number, domid: number, index: number): bigint | number {
  const g = mem(host, caller);
  g.write(ARG, new Uint8Array(16));
  g.writeU16(ARG, domid);
  g.writeU32(ARG + 4, index);
  const rc = call(host, caller, Hypercall.hvm_op, HVMOP.get_param, ARG);
  return rc === 0 ? g.readU64Big(ARG + 8) : rc;
}
const params = (domid: number) => Array.from({ length: HVM_NR_PARAMS }, (_, i) => host.hvmParamsOf(domid)!.get(i));

describe('HVMOP_set_param / get_param', () => {
  it('lets a guest set and read its own CALLBACK_IRQ through DOMID_SELF', () => {
    expect(setParam(HVM, DOMID_SELF, HVM_PARAM.CALLBACK_IRQ, vector(0xf3))).toBe(0);
    expect(host.hvmParamsOf(HVM)!.get(HVM_PARAM.CALLBACK_IRQ)).toBe(0x0200_0000_0000_00f3n);
    expect(getParam(HVM, HVM, HVM_PARAM.CALLBACK_IRQ)).toBe(0x0200_0000_0000_00f3n);
  });

  it('refuses a guest the toolstack’s params (STORE_PFN) but lets Dom0 set them, and the guest read them', () => {
    expect(setParam(HVM, DOMID_SELF, HVM_PARAM.STORE_PFN, 0xfeffcn)).toBe(-XenErrno.EPERM);
    expect(host.hvmParamsOf(HVM)!.get(HVM_PARAM.STORE_PFN)).toBe(0n);
    expect(setParam(DOM0, HVM, HVM_PARAM.STORE_PFN, 0xfeffcn)).toBe(0);
    expect(getParam(HVM, DOMID_SELF, HVM_PARAM.STORE_PFN)).toBe(0xfeffcn);
    expect(setParam(HVM, DOMID_SELF, HVM_PARAM.CONSOLE_PFN, 1n)).toBe(-XenErrno.EPERM);
    expect(getParam(HVM, DOMID_SELF, HVM_PARAM.IDENT_PT)).toBe(-XenErrno.EPERM);
    expect(getParam(DOM0, HVM, HVM_PARAM.IDENT_PT)).toBe(0n);
  });

  it('gives an unprivileged guest EPERM on another domain, and leaves the target’s params as they were', () => {
    const before = params(HVM);
    expect(setParam(PVH, HVM, HVM_PARAM.CALLBACK_IRQ, vector(0x40))).toBe(-XenErrno.EPERM);
    expect(setParam(PVH, HVM, HVM_PARAM.STORE_EVTCHN, 9n)).toBe(-XenErrno.EPERM);
    expect(getParam(PVH, HVM, HVM_PARAM.CALLBACK_IRQ)).toBe(-XenErrno.EPERM);
    expect(params(HVM)).toEqual(before);
  });

  it('validates CALLBACK_IRQ: GSI below 48, PCI INTx on segment/bus 0, vector ≥ 0x10, known types; 0 disables', () => {
    const cases: [bigint, number][] = [
      [vector(0x0f), -XenErrno.EINVAL],
      [vector(0x10), 0],
      [(2n << 56n) | 0x1f3n, -XenErrno.EINVAL],
      [5n, 0],
      [48n, -XenErrno.EINVAL],
      [(1n << 56n) | (3n << 11n) | 0n, 0],
      [(1n << 56n) | (1n << 16n) | (3n << 11n), -XenErrno.EINVAL],
      [(1n << 56n) | 4n, -XenErrno.EINVAL],
      [3n << 56n, -XenErrno.EINVAL],
      [0n, 0],
    ];
    for (const [value, rc] of cases) expect([value.toString(16), setParam(PVH, DOMID_SELF, HVM_PARAM.CALLBACK_IRQ, value)]).toEqual([value.toString(16), rc]);
    expect(checkCallbackIrq(vector(0x20))).toBeUndefined();
  });

  it('checks the index, the domain and its mode first', () => {
    expect(setParam(HVM, DOMID_SELF, HVM_NR_PARAMS, 0n)).toBe(-XenErrno.EINVAL);
    expect(getParam(HVM, DOMID_SELF, 0xffff_ffff)).toBe(-XenErrno.EINVAL);
    expect(setParam(DOM0, 77, HVM_PARAM.STORE_PFN, 1n)).toBe(-XenErrno.ESRCH);
    expect(setParam(DOM0, PV, HVM_PARAM.STORE_PFN, 1n)).toBe(-XenErrno.EINVAL);
    expect(getParam(PV, DOMID_SELF, HVM_PARAM.CALLBACK_IRQ)).toBe(-XenErrno.EINVAL);
    expect(call(host, HVM, Hypercall.hvm_op, HVMOP.set_param, 64 * 2 ** 20)).toBe(-XenErrno.EFAULT);
  });

  it('refuses deprecated params to everyone, and set-once params a second different value', () => {
    expect(setParam(DOM0, HVM, HVM_PARAM.PAE_ENABLED, 1n)).toBe(-XenErrno.EINVAL);
    expect(getParam(DOM0, HVM, HVM_PARAM.NESTEDHVM)).toBe(-XenErrno.EINVAL);
    expect(setParam(DOM0, PVH, HVM_PARAM.VIRIDIAN, 1n)).toBe(0);
    expect(setParam(DOM0, PVH, HVM_PARAM.VIRIDIAN, 3n)).toBe(-XenErrno.EEXIST);
    expect(setParam(DOM0, PVH, HVM_PARAM.VIRIDIAN, 1n)).toBe(0);
    expect(setParam(DOM0, HVM, HVM_PARAM.VIRIDIAN, 2n)).toBe(-XenErrno.EINVAL);
  });

  it('checks per-param values as Xen does (timer mode, x87 FIP width, ACPI S-state, VM86 TSS)', () => {
    expect(setParam(DOM0, HVM, HVM_PARAM.TIMER_MODE, 4n)).toBe(-XenErrno.EINVAL);
    expect(setParam(DOM0, HVM, HVM_PARAM.TIMER_MODE, 3n)).toBe(0);
    expect(setParam(HVM, DOMID_SELF, HVM_PARAM.X87_FIP_WIDTH, 5n)).toBe(-XenErrno.EINVAL);
    expect(setParam(HVM, DOMID_SELF, HVM_PARAM.X87_FIP_WIDTH, 4n)).toBe(0);
    expect(setParam(DOM0, HVM, HVM_PARAM.ACPI_S_STATE, 1n)).toBe(-XenErrno.EINVAL);
    expect(setParam(HVM, DOMID_SELF, HVM_PARAM.VM86_TSS, 0x1_0000_0000n)).toBe(-XenErrno.EINVAL);
    expect(setParam(HVM, DOMID_SELF, HVM_PARAM.VM86_TSS, 0x1000n)).toBe(0);
    expect(getParam(HVM, DOMID_SELF, HVM_PARAM.VM86_TSS)).toBe(0x1000n);
    expect(getParam(HVM, DOMID_SELF, HVM_PARAM.VM86_TSS_SIZED)).toBe((128n << 32n) | 0x1000n);
  });

  it('emits the HvmParams change event other subsystems follow', () => {
    const seen: [number, bigint][] = [];
    const listener = (i: number, v: bigint) => seen.push([i, v]);
    host.hvmParamsOf(PVH)!.events.on('changed', listener);
    setParam(PVH, DOMID_SELF, HVM_PARAM.CALLBACK_IRQ, vector(0xe0));
    host.hvmParamsOf(PVH)!.events.off('changed', listener);
    expect(seen).toEqual([[HVM_PARAM.CALLBACK_IRQ, vector(0xe0)]]);
  });
});

describe('the other hvm_op sub-ops', () => {
  it('set_evtchn_upcall_vector hands {vcpu, vector} to the event-channel API after Xen’s checks', () => {
    const calls: number[][] = [];
    host.container.registerInstance(EventChannels, { setUpcallVector: (d: number, v: number, vec: number) => calls.push([d, v, vec]) } as never);
    const upcall = (domid: number, vcpu: number, vec: number) => {
      mem(host, domid).write(ARG, Uint8Array.of(vcpu, 0, 0, 0, vec, 0, 0, 0));
      return call(host, domid, Hypercall.hvm_op, HVMOP.set_evtchn_upcall_vector, ARG);
    };
    expect(upcall(HVM, 1, 0x20)).toBe(0);
    expect(upcall(HVM, 0, 0x0f)).toBe(-XenErrno.EINVAL);
    expect(upcall(HVM, 2, 0x20)).toBe(-XenErrno.ENOENT);
    expect(upcall(PV, 0, 0x20)).toBe(-XenErrno.EINVAL);
    expect(calls).toEqual([[HVM, 1, 0x20]]);
  });

  it('set_evtchn_upcall_vector is ENOSYS while no event-channel subsystem is registered', () => {
    const hv = { domains: host.domains, container: rootContainer.createChildContainer(), hvmParamsOf: (d: number) => host.hvmParamsOf(d) } as unknown as HypervisorContext;
    const hvmOp = makeHvmOp(hv);
    mem(host, HVM).write(ARG, Uint8Array.of(0, 0, 0, 0, 0x30, 0, 0, 0));
    expect(() => hvmOp(vcpuOf(host, HVM), [HVMOP.set_evtchn_upcall_vector, ARG])).toThrow(expect.objectContaining({ code: 'ENOSYS' }));
  });

  it('get_time writes the caller’s time in ns', () => {
    const now = Math.floor(vcpuOf(host, PVH).localTime);
    expect(call(host, PVH, Hypercall.hvm_op, HVMOP.get_time, ARG)).toBe(0);
    const t = mem(host, PVH).readU64(ARG);
    expect(t).toBeGreaterThanOrEqual(now);
    expect(t).toBeLessThan(now + 10_000);
    expect(call(host, PV, Hypercall.hvm_op, HVMOP.get_time, ARG)).toBe(0);
  });

  it('flush_tlbs takes a null argument and only HVM callers', () => {
    expect(call(host, HVM, Hypercall.hvm_op, HVMOP.flush_tlbs, 0)).toBe(0);
    expect(call(host, HVM, Hypercall.hvm_op, HVMOP.flush_tlbs, ARG)).toBe(-XenErrno.EINVAL);
    expect(call(host, PV, Hypercall.hvm_op, HVMOP.flush_tlbs, 0)).toBe(-XenErrno.EINVAL);
  });

  it('get_mem_type classifies the P2M entry: RAM is ram_rw, a hole mmio_dm; only self or Dom0', () => {
    const memType = (caller: number, domid: number, pfn: number) => {
      const g = mem(host, caller);
      g.write(ARG, new Uint8Array(16).fill(0xaa));
      g.writeU16(ARG, domid);
      g.writeU64(ARG + 8, pfn);
      const rc = call(host, caller, Hypercall.hvm_op, HVMOP.get_mem_type, ARG);
      return rc === 0 ? g.readU16(ARG + 2) : rc;
    };
    expect(memType(HVM, DOMID_SELF, 0x10)).toBe(0);
    expect(memType(HVM, DOMID_SELF, 0x10_0000)).toBe(2);
    expect(memType(DOM0, PVH, 0x10)).toBe(0);
    expect(memType(PVH, HVM, 0x10)).toBe(-XenErrno.EPERM);
    expect(memType(DOM0, PV, 0x10)).toBe(-XenErrno.EINVAL);
  });

  it('pagetable_dying: EOPNOTSUPP for another domain, EINVAL for a HAP guest', () => {
    mem(host, HVM).writeU16(ARG, PVH);
    expect(call(host, HVM, Hypercall.hvm_op, HVMOP.pagetable_dying, ARG)).toBe(-XenErrno.EOPNOTSUPP);
    mem(host, HVM).writeU16(ARG, DOMID_SELF);
    expect(call(host, HVM, Hypercall.hvm_op, HVMOP.pagetable_dying, ARG)).toBe(-XenErrno.EINVAL);
  });

  it('altp2m is EOPNOTSUPP (disabled); sub-ops moved to dm_op and unknown ones are ENOSYS', () => {
    expect(call(host, HVM, Hypercall.hvm_op, HVMOP.altp2m, ARG)).toBe(-XenErrno.EOPNOTSUPP);
    for (const op of [HVMOP.set_pci_intx_level, HVMOP.set_isa_irq_level, 11, 99, -1]) expect(call(host, HVM, Hypercall.hvm_op, op, ARG)).toBe(-XenErrno.ENOSYS);
  });
});
