import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import type { VcpuImpl } from '../../../core/cpu/vcpu.js';
import { SchedOps } from '../../../core/cpu/sched-state.js';
import { Hypercall } from '../../../core/public/xen.js';
import { SCHEDOP } from '../../../core/public/sched.js';
import { RUNSTATE, VCPUOP, VCPU_SSHOTTMR_future, VcpuGuestContext, CpuUserRegs } from '../../../core/public/vcpu.js';
import { XenErrno } from '../../../core/public/errno.js';
import { bootTestHost, runOnVcpu, vcpuOf } from '../../hypervisor/harness.js';
import { MS, call, installFakeEventChannels, upcall, writer } from './sched-helpers.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

const { vcpu_op, sched_op, set_timer_op } = Hypercall;
const CTX = 0x4000;
const ENTRY = 0x10_0000;

/** A 32-bit flat protected-mode vcpu_hvm_context at `addr` starting at `eip`. */
function hvm32(h: Host, domid: number, addr: number, eip: number): void {
  const w = writer(h, domid);
  w.bytes(addr, new Uint8Array(128));
  w.u32(addr, 0);
  const r = addr + 8;
  w.u32(r + 16, 0x8000); // esp
  w.u32(r + 32, eip);
  w.u32(r + 40, 0x11); // cr0: PE|ET
  [0xc9b, 0xc93, 0xc93, 0xc93, 0x8b].forEach((ar, i) => {
    w.u32(r + 84 + i * 4, 0xffff_ffff);
    w.u16(r + 104 + i * 2, ar);
  });
}

/** A state fingerprint of every vCPU of a domain. */
function vcpuPrint(h: Host, domid: number): string {
  const d = h.domains.lookup(domid);
  const shared = h.sharedInfoOf(domid)!;
  return JSON.stringify([
    d.state,
    d.vcpus.map((v) => [v.isUp, v.runstate, v.hasProgram, v.hardAffinity.toArray(), JSON.stringify(v.context.snapshot()), shared.hasRegisteredVcpuInfo(v.vcpuId)]),
    Array.from(shared.bytes.subarray(0, 64 * 4)),
    h.hypervisorSubsystems.find((s) => s.name === 'sched-op')!.dump!(),
  ]);
}

describe('VCPUOP hotplug', () => {
  it('initialises a down vCPU from a vcpu_hvm_context and VCPUOP_up runs the guest code at its RIP', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g', vcpus: 2 }] }));
    const ap = vcpuOf(host, 1, 1);
    ap.down();
    const started: number[] = [];
    host.container.resolve(SchedOps).setEntryPoint(1, ENTRY, function* (v) {
      started.push(v.vcpuId);
      yield v.block();
    });
    hvm32(host, 1, CTX, ENTRY);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.is_up, 1)).toBe(0);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.up, 1)).toBe(-XenErrno.EINVAL);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.initialise, 1, CTX)).toBe(0);
    expect(ap.context.rip).toBe(ENTRY);
    expect(ap.context.cs.attributes).toBe(0xc09b);
    expect(ap.context.rsp).toBe(0x8000);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.up, 1)).toBe(0);
    host.runFor(MS);
    expect(started).toEqual([1]);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.is_up, 1)).toBe(1);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.initialise, 1, CTX)).toBe(-XenErrno.EEXIST);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.down, 1)).toBe(0);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.is_up, 1)).toBe(0);
    expect(ap.runstate).toBe('offline');
    expect(call(host, 1, 0, vcpu_op, VCPUOP.initialise, 1, CTX)).toBe(-XenErrno.EEXIST);
  });

  it('checks a 64-bit context as Xen does: paging, PAE, LME and a RAM CR3', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g', vcpus: 2 }] }));
    vcpuOf(host, 1, 1).down();
    const w = writer(host, 1);
    const ctx64 = (cr0: number, cr3: number): void => {
      w.bytes(CTX, new Uint8Array(128));
      w.u32(CTX, 1);
      w.u64(CTX + 8 + 64, 0xffff_ffff_8100_0000n); // rip
      w.u64(CTX + 8 + 80, cr0);
      w.u64(CTX + 8 + 88, cr3);
      w.u64(CTX + 8 + 96, 0x20);
      w.u64(CTX + 8 + 104, 0x100);
    };
    ctx64(0x11, 0x5000);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.initialise, 1, CTX)).toBe(-XenErrno.EINVAL);
    ctx64(0x8000_0011, 2 ** 40);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.initialise, 1, CTX)).toBe(-XenErrno.EINVAL);
    ctx64(0x8000_0011, 0x5000);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.initialise, 1, CTX)).toBe(0);
    const regs = vcpuOf(host, 1, 1).context;
    expect(regs.rip).toBe(-0x7f00_0000);
    expect(regs.efer & 0x400).toBe(0x400);
    expect(regs.cs.attributes).toBe(0xa09b);
  });

  it('loads a PV vcpu_guest_context only with a CR3 frame the domain owns', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'pv', type: 'pv', vcpus: 2 }, { name: 'other', type: 'pv' }] }));
    vcpuOf(host, 1, 1).down();
    const w = writer(host, 1);
    const ownL4 = host.p2mOf(1)!.mfnOf(8 as never);
    const foreignL4 = host.p2mOf(2)!.mfnOf(8 as never);
    const load = (l4: number): number => {
      w.bytes(CTX, new Uint8Array(VcpuGuestContext.size));
      w.u64(CTX + VcpuGuestContext.flags, 1 << 2);
      w.u64(CTX + VcpuGuestContext.userRegs + CpuUserRegs.rip, 0xffff_ffff_8000_1000n);
      w.u64(CTX + VcpuGuestContext.userRegs + CpuUserRegs.rsp, 0xffff_ffff_8000_8000n);
      w.u64(CTX + VcpuGuestContext.userRegs + CpuUserRegs.rax, 42);
      w.u64(CTX + VcpuGuestContext.ctrlreg + 3 * 8, l4 * 4096);
      return call(host, 1, 0, vcpu_op, VCPUOP.initialise, 1, CTX);
    };
    expect(load(foreignL4)).toBe(-XenErrno.EINVAL);
    expect(load(ownL4)).toBe(0);
    const regs = vcpuOf(host, 1, 1).context;
    expect(regs.cr3).toBe(ownL4 * 4096);
    expect(regs.rax).toBe(42);
    expect(regs.rflags & 0x200).toBe(0x200);
  });

  it('refuses a vCPU id out of range with −ENOENT for every command, changing nothing', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g', vcpus: 2 }] }));
    const before = vcpuPrint(host, 1);
    for (const id of [2, 3, 127, 128, -1, 2 ** 32, 0.5]) {
      for (let cmd = 0; cmd <= 13; cmd++) expect(call(host, 1, 0, vcpu_op, cmd, id, 0x1000)).toBe(-XenErrno.ENOENT);
    }
    expect(vcpuPrint(host, 1)).toBe(before);
    expect(call(host, 1, 0, vcpu_op, 14, 0)).toBe(-XenErrno.ENOSYS);
  });
});

describe('VCPUOP timers', () => {
  it('singleshot: −ETIME in the past with VCPU_SSHOTTMR_future, an immediate VIRQ_TIMER without; only for the caller', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g', vcpus: 2 }] }));
    const evtchn = installFakeEventChannels(host);
    host.runFor(10 * MS);
    const w = writer(host, 1);
    w.u64(0x1000, 5 * MS);
    w.u32(0x1008, VCPU_SSHOTTMR_future);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.set_singleshot_timer, 0, 0x1000)).toBe(-XenErrno.ETIME);
    expect(evtchn.virqs).toEqual([]);
    w.u32(0x1008, 0);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.set_singleshot_timer, 0, 0x1000)).toBe(0);
    expect(evtchn.virqsOf(1, 0)).toHaveLength(1);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.set_singleshot_timer, 1, 0x1000)).toBe(-XenErrno.EINVAL);
    w.u64(0x1000, 15 * MS);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.set_singleshot_timer, 0, 0x1000)).toBe(0);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.stop_singleshot_timer, 0)).toBe(0);
    host.runFor(10 * MS);
    expect(evtchn.virqsOf(1, 0)).toHaveLength(1);
  });

  it('set_timer_op fires at its absolute time, 0 cancels, and a wrapped timeout fires in 100 ms', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const evtchn = installFakeEventChannels(host);
    expect(call(host, 1, 0, set_timer_op, 3 * MS)).toBe(0);
    host.runFor(4 * MS);
    expect(evtchn.virqsOf(1, 0).map((r) => r.at)).toEqual([3 * MS]);
    expect(call(host, 1, 0, set_timer_op, 10 * MS)).toBe(0);
    expect(call(host, 1, 0, set_timer_op, 0)).toBe(0);
    host.runFor(10 * MS);
    expect(evtchn.virqsOf(1, 0)).toHaveLength(1);
    const t = host.engine.now;
    expect(call(host, 1, 0, set_timer_op, -5)).toBe(0);
    host.runFor(101 * MS);
    expect(evtchn.virqsOf(1, 0).map((r) => r.at)).toEqual([3 * MS, t + 100 * MS]);
  });

  it('periodic: under 1 ms is −EINVAL; a 100 Hz timer on 10 vCPUs delivers 100 VIRQ_TIMERs each in one second', async () => {
    ({ host } = await bootTestHost({ cpus: 4, guests: [{ name: 'g', vcpus: 10 }] }));
    const evtchn = installFakeEventChannels(host);
    const w = writer(host, 1);
    w.u64(0x1000, 999_999);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.set_periodic_timer, 0, 0x1000)).toBe(-XenErrno.EINVAL);
    const armedAt: number[] = [];
    const wakes = new Array<number>(10).fill(0);
    const loc = (i: number) => host.sharedInfoOf(1)!.vcpuInfo(i);
    for (let i = 0; i < 10; i++) {
      w.u64(0x2000 + i * 16, 10 * MS);
      vcpuOf(host, 1, i).setProgram(function* (v) {
        expect(v.hypercall(vcpu_op, VCPUOP.set_periodic_timer, i, 0x2000 + i * 16)).toBe(0);
        armedAt[i] = v.now;
        for (;;) {
          yield* v.hypercallBlocking(sched_op, SCHEDOP.block);
          const l = loc(i);
          l.view.setUint8(l.offset, 0); // the guest's upcall handler acknowledges the event
          wakes[i]!++;
          v.compute(2_000);
        }
      });
    }
    host.runFor(1000 * MS + MS);
    for (let i = 0; i < 10; i++) {
      const inSecond = evtchn.virqsOf(1, i).filter((r) => r.at <= armedAt[i]! + 1000 * MS);
      expect(inSecond).toHaveLength(100);
      expect(wakes[i]).toBe(100);
    }
  });
});

describe('VCPUOP areas', () => {
  it('register_vcpu_info moves vcpu_info into a gfn of an auto-translated guest, once', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const w = writer(host, 1);
    w.u64(0x1000, 0x20);
    w.u32(0x1008, 128);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.register_vcpu_info, 0, 0x1000)).toBe(0);
    const loc = host.sharedInfoOf(1)!.vcpuInfo(0);
    expect(loc.offset).toBe(128);
    expect(loc.bytes).toBe(host.memory.frameBytes(host.p2mOf(1)!.mfnOf(0x20 as never) as never));
    expect(upcall(host, 1, 0).pending).toBe(1);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.register_vcpu_info, 0, 0x1000)).toBe(-XenErrno.EINVAL);
  });

  it('register_vcpu_info of a PV guest refuses a frame it does not own (−EINVAL) and accepts its own', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'pv', type: 'pv' }, { name: 'victim', type: 'pv' }] }));
    const w = writer(host, 1);
    const victimFrame = host.p2mOf(2)!.mfnOf(0x20 as never);
    const victimBytes = host.memory.frameBytes(victimFrame as never).slice();
    for (const mfn of [victimFrame, host.sharedInfoOf(0)!.mfn, 0x20, 2 ** 40]) {
      w.u64(0x1000, mfn);
      w.u32(0x1008, 0);
      expect(call(host, 1, 0, vcpu_op, VCPUOP.register_vcpu_info, 0, 0x1000)).toBe(-XenErrno.EINVAL);
    }
    expect(host.memory.frameBytes(victimFrame as never)).toEqual(victimBytes);
    expect(host.sharedInfoOf(1)!.hasRegisteredVcpuInfo(0)).toBe(false);
    w.u64(0x1000, host.p2mOf(1)!.mfnOf(0x20 as never));
    expect(call(host, 1, 0, vcpu_op, VCPUOP.register_vcpu_info, 0, 0x1000)).toBe(0);
  });

  it('keeps a registered runstate area current on every runstate change, and get_runstate_info copies it out', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    const g = vcpuOf(host, 1).guest;
    writer(host, 1).u64(0x1000, 0x3000);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.register_runstate_memory_area, 0, 0x1000)).toBe(0);
    const seen: number[] = [];
    runOnVcpu(host, 1, 0, function* (v) {
      seen.push(g.readU32(0x3000));
      yield v.sleepFor(3 * MS);
      seen.push(g.readU32(0x3000));
      return 0;
    });
    host.runFor(2 * MS);
    const info = vcpuOf(host, 1).runstateInfo();
    expect(seen).toEqual([RUNSTATE.running, RUNSTATE.running]);
    expect(g.readU32(0x3000)).toBe(RUNSTATE.blocked);
    expect(g.readU64(0x3008)).toBe(Math.floor(info.stateEntryTime));
    expect(g.readU64(0x3010 + 8 * RUNSTATE.blocked)).toBeGreaterThan(2.9 * MS);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.get_runstate_info, 0, 0x3100)).toBe(0);
    expect(g.readU32(0x3100)).toBe(RUNSTATE.blocked);
    expect(call(host, 1, 0, vcpu_op, VCPUOP.get_runstate_info, 0, 2 ** 40)).toBe(-XenErrno.EFAULT);
  });

  it('get_physid is −EINVAL unless the hardware domain pins the vCPU to the pCPU of its number', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'g' }] }));
    expect(call(host, 1, 0, vcpu_op, VCPUOP.get_physid, 0, 0x1000)).toBe(-XenErrno.EINVAL);
    expect(call(host, 0, 0, vcpu_op, VCPUOP.get_physid, 0, 0x1000)).toBe(-XenErrno.EINVAL);
    const { CpuMask } = await import('../../../core/api/scheduler.js');
    (vcpuOf(host, 0) as VcpuImpl).setHardAffinity(CpuMask.of(0));
    expect(call(host, 0, 0, vcpu_op, VCPUOP.get_physid, 0, 0x1000)).toBe(0);
    expect(vcpuOf(host, 0).guest.readU64(0x1000)).toBe(0);
  });
});
