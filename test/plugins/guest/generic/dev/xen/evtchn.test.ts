/** The PV kernel's event waiting (BlockingEvents) against a flat memory and a recording hypercall: when it blocks, polls or returns at once, and what taking the upcall leaves in vcpu_info. */
import { describe, expect, it } from 'vitest';
import type { VcpuApi, VcpuRequest } from '../../../../../../core/api/index.js';
import { Hypercall, SCHEDOP, SchedPoll, SharedInfo, VcpuInfo } from '../../../../../../core/public/index.js';
import { ByteArrayGuestAccess } from '../../../../../../core/testing/fake-guest-access.js';
import { BlockingEvents } from '../../../../../../plugins/guest/generic/dev/xen/evtchn.js';
import { Hypervisor } from '../../../../../../plugins/guest/generic/dev/xen/hypervisor.js';

const SHARED = 0x1000;
const HYPERCALL_PAGE = 0x3000;
const INFO = SHARED + SharedInfo.vcpuInfo;
const PREEMPT: VcpuRequest = { op: 'preempt' };

/** A vCPU whose sched_op hypercalls are recorded; SCHEDOP_block unmasks upcalls as Xen's does. */
function setup() {
  const memory = new ByteArrayGuestAccess(0x4000);
  const calls: number[] = [];
  const v = {
    vcpuId: 0,
    memory,
    now: 0,
    preempt: () => PREEMPT,
    hypercall(nr: number, cmd: number) {
      if (nr !== Hypercall.sched_op) throw new Error(`unexpected hypercall ${nr}`);
      calls.push(cmd);
      if (cmd === SCHEDOP.block) memory.writeU8(INFO + VcpuInfo.evtchnUpcallMask, 0);
      return 0;
    },
  } as unknown as VcpuApi;
  const events = new BlockingEvents(v, new Hypervisor(v, HYPERCALL_PAGE), SHARED);
  const raise = (port: number): void => {
    const at = SHARED + SharedInfo.evtchnPending + (port >> 3);
    memory.writeU8(at, memory.readU8(at) | (1 << (port & 7)));
    memory.writeU8(INFO + VcpuInfo.evtchnPendingSel, 1);
    memory.writeU8(INFO + VcpuInfo.evtchnUpcallPending, 1);
  };
  const mask = () => memory.readU8(INFO + VcpuInfo.evtchnUpcallMask);
  return { memory, calls, events, raise, mask };
}

describe('BlockingEvents (a PV kernel idling in SCHEDOP_block)', () => {
  it('starts masked; the idle wait blocks when none of its ports is pending', () => {
    const { calls, events, mask } = setup();
    expect(mask()).toBe(1);
    expect(events.startWait([3, 5], 0)).toBe(PREEMPT);
    expect(calls).toEqual([SCHEDOP.block]);
    expect(mask()).toBe(0);
  });

  it('takes the upcall before acknowledging ports: masked again, upcall_pending and pending_sel cleared', () => {
    const { memory, events, raise, mask } = setup();
    events.startWait([3, 5], 0);
    raise(5);
    const fired = [false, false];
    events.consumeAll([3, 5], fired);
    expect(fired).toEqual([false, true]);
    expect(mask()).toBe(1);
    expect(memory.readU8(INFO + VcpuInfo.evtchnUpcallPending)).toBe(0);
    expect(memory.readU64(INFO + VcpuInfo.evtchnPendingSel)).toBe(0);
    expect(memory.readU8(SHARED + SharedInfo.evtchnPending)).toBe(0);
  });

  it('does not block on a port left pending since the last acknowledgement (its pending_sel bit would not wake it)', () => {
    const { memory, calls, events, raise } = setup();
    events.startWait([3, 5], 0);
    raise(3);
    // A nested round took the upcall but skipped port 3 (its handler was running): the port stays pending.
    events.consumeAll([5], [false]);
    expect(memory.readU8(INFO + VcpuInfo.evtchnUpcallPending)).toBe(0);
    expect(events.startWait([3, 5], 0)).toBe(PREEMPT);
    expect(calls).toEqual([SCHEDOP.block]);
  });

  it('waits with a timeout, or on chosen ports, in SCHEDOP_poll with upcalls masked again', () => {
    const { memory, calls, events, mask } = setup();
    events.startWait([3], 0);
    expect(mask()).toBe(0);
    events.startWait([3], 5e6);
    expect(calls).toEqual([SCHEDOP.block, SCHEDOP.poll]);
    expect(mask()).toBe(1);
    expect(memory.readU64(HYPERCALL_PAGE + 0x80 + SchedPoll.timeout)).toBe(5e6);
    events.startWait([3], 0);
    expect(mask()).toBe(0);
    const thread = events.wait([7], 0);
    expect(thread.next().value).toBe(PREEMPT);
    expect(calls).toEqual([SCHEDOP.block, SCHEDOP.poll, SCHEDOP.block, SCHEDOP.poll]);
    expect(mask()).toBe(1);
  });
});
