import { describe, expect, it } from 'vitest';
import { HypercallTableImpl } from '../../../core/hypercall/table.js';
import { HypercallDispatcherImpl } from '../../../core/hypercall/dispatch.js';
import { registerXenVersion, XENVER } from '../../../core/hypercall/xen-version.js';
import { DEFAULT_HYPERCALL_MATRIX } from '../../../core/hypercall/defaults.js';
import { HYPERCALL_DECISIONS, type HypercallContext } from '../../../core/api/hypercall.js';
import { GUEST_MODES, type GuestMode } from '../../../core/api/domain.js';
import { GuestError } from '../../../core/api/errors.js';
import { MemoryLogSink, createLogger } from '../../../core/api/log.js';
import { Engine } from '../../../core/engine/engine.js';
import { TraceKind, type TraceRecord } from '../../../core/engine/trace.js';
import { XenErrno } from '../../../core/public/errno.js';
import { Hypercall, NR_HYPERCALLS, XEN_MAJOR, XEN_MINOR, type HypercallName } from '../../../core/public/xen.js';
import { domId, vcpuId } from '../../../core/public/types.js';
import { ByteArrayGuestAccess } from '../../../core/testing/index.js';

function setup() {
  const engine = new Engine();
  const sink = new MemoryLogSink();
  const table = new HypercallTableImpl();
  const dispatcher = new HypercallDispatcherImpl(table, engine, createLogger('core.hypercall', sink.sink, () => engine.now, 'debug'));
  return { engine, sink, table, dispatcher };
}

function caller(mode: GuestMode, privileged = false, domid = 3): HypercallContext & { cycles: number } {
  return {
    domid: domId(domid),
    vcpuId: vcpuId(1),
    privileged,
    mode,
    now: 1000,
    cycles: 0,
    guest: new ByteArrayGuestAccess(4096, domid),
    charge(c: number) {
      this.cycles += c;
    },
  };
}

const names = Object.keys(Hypercall) as HypercallName[];

describe('hypercall table', () => {
  it('has a decision for every hypercall in every mode', () => {
    const { table } = setup();
    expect(Object.keys(DEFAULT_HYPERCALL_MATRIX).sort()).toEqual([...names].sort());
    for (const name of names) for (const mode of GUEST_MODES) expect(HYPERCALL_DECISIONS).toContain(table.decision(mode, Hypercall[name]));
    expect(table.matrix()).toHaveLength(names.length);
  });

  it('follows Xen for x86: the PV MMU and trap hypercalls exist only for PV', () => {
    const { table } = setup();
    const pvOnly: HypercallName[] = ['set_trap_table', 'mmu_update', 'update_va_mapping', 'set_callbacks', 'iret', 'set_gdt', 'stack_switch', 'set_segment_base', 'callback_op', 'update_va_mapping_otherdomain'];
    for (const name of pvOnly) {
      expect(table.decision('pv', Hypercall[name])).toBe('handled');
      for (const mode of ['hvm', 'pvhvm', 'pvh'] as const) expect(table.decision(mode, Hypercall[name])).toBe('unavailable');
    }
    const everywhere: HypercallName[] = ['memory_op', 'xen_version', 'sched_op', 'vcpu_op', 'event_channel_op', 'grant_table_op', 'hvm_op', 'console_io', 'multicall', 'mmuext_op'];
    for (const name of everywhere) for (const mode of GUEST_MODES) expect(table.decision(mode, Hypercall[name])).toBe('handled');
    for (const name of ['domctl', 'sysctl', 'platform_op', 'dm_op'] as const) for (const mode of GUEST_MODES) expect(table.decision(mode, Hypercall[name])).toBe('privileged');
    expect(table.decision('pv', 11)).toBe('unavailable');
    expect(table.decision('pv', NR_HYPERCALLS)).toBe('unavailable');
  });

  it('lets a guest-mode plugin override part of its column and undo it', () => {
    const { table } = setup();
    const undo = table.setColumn('pvh', { physdev_op: 'unavailable', set_timer_op: 'privileged' });
    expect(table.decision('pvh', Hypercall.physdev_op)).toBe('unavailable');
    expect(table.decision('hvm', Hypercall.physdev_op)).toBe('handled');
    undo();
    expect(table.decision('pvh', Hypercall.physdev_op)).toBe('handled');
    expect(table.decision('pvh', Hypercall.set_timer_op)).toBe('handled');
    expect(() => table.setColumn('pv', { nope: 'handled' } as never)).toThrow(/unknown hypercall nope/);
    expect(() => table.setDecision('vmx' as GuestMode, 'iret', 'handled')).toThrow(/unknown guest mode "vmx"/);
  });

  it('takes one handler per hypercall', () => {
    const { table } = setup();
    const remove = table.register('sched_op', () => 0);
    expect(() => table.register(Hypercall.sched_op, () => 1)).toThrow(/sched_op \(29\) already has a handler/);
    remove();
    expect(table.handler(Hypercall.sched_op)).toBeUndefined();
    expect(() => table.register(11, () => 0)).toThrow(/unknown hypercall 11/);
  });
});

describe('hypercall dispatcher', () => {
  it('returns -ENOSYS for unknown numbers, unavailable cells and missing handlers', () => {
    const { dispatcher } = setup();
    const ctx = caller('hvm');
    for (const nr of [-1, 11, 64, 1000, 1.5, NaN]) expect(dispatcher.dispatch(ctx, nr, [])).toBe(-XenErrno.ENOSYS);
    expect(dispatcher.dispatch(ctx, Hypercall.mmu_update, [])).toBe(-XenErrno.ENOSYS);
    expect(dispatcher.dispatch(caller('pv'), Hypercall.mmu_update, [])).toBe(-XenErrno.ENOSYS);
  });

  it('gives -EPERM to unprivileged callers of privileged hypercalls', () => {
    const { table, dispatcher } = setup();
    table.register('domctl', () => 7);
    expect(dispatcher.dispatch(caller('pv', false), Hypercall.domctl, [])).toBe(-XenErrno.EPERM);
    expect(dispatcher.dispatch(caller('pv', true, 0), Hypercall.domctl, [])).toBe(7);
  });

  it("maps a handler's GuestError to -errno, and anything else to -EFAULT with a log line", () => {
    const { table, dispatcher, sink } = setup();
    table.register('memory_op', () => {
      throw new GuestError('ENOMEM', 'out of frames');
    });
    table.register('event_channel_op', () => {
      throw new TypeError('cannot read properties of undefined');
    });
    table.register('console_io', () => 0.5);
    const ctx = caller('pvh');
    expect(dispatcher.dispatch(ctx, Hypercall.memory_op, [1])).toBe(-XenErrno.ENOMEM);
    expect(dispatcher.dispatch(ctx, Hypercall.event_channel_op, [4])).toBe(-XenErrno.EFAULT);
    expect(dispatcher.dispatch(ctx, Hypercall.console_io, [0])).toBe(-XenErrno.EFAULT);
    const errors = sink.lines('error');
    expect(errors[0]).toMatch(/dom3 vcpu1 event_channel_op: handler threw: TypeError: cannot read properties/);
    expect(errors[1]).toMatch(/dom3 vcpu1 console_io: handler returned 0.5/);
  });

  it('charges the hypercall cost and traces number, sub-op and result', () => {
    const { engine, table, dispatcher } = setup();
    registerXenVersion(table);
    const recs: TraceRecord[] = [];
    engine.trace.subscribe((r) => recs.push({ ...r }));
    const ctx = caller('hvm');
    expect(dispatcher.dispatch(ctx, Hypercall.xen_version, [XENVER.version, 0])).toBe((XEN_MAJOR << 16) | XEN_MINOR);
    expect(dispatcher.dispatch(ctx, Hypercall.xen_version, [XENVER.pagesize, 0])).toBe(4096);
    // build_id is refused to unprivileged callers (Xen's default XSM policy).
    expect(dispatcher.dispatch(ctx, Hypercall.xen_version, [XENVER.build_id, 0])).toBe(-XenErrno.EPERM);
    expect(dispatcher.dispatch(ctx, Hypercall.multicall, [0x1234, 2])).toBe(-XenErrno.ENOSYS);
    expect(ctx.cycles).toBe(4 * engine.cost.hypercall);
    expect(recs.map((r) => [r.kind, r.domid, r.vcpu, r.a, r.b, r.c])).toEqual([
      [TraceKind.Hypercall, 3, 1, 17, 0, 0x4_0011],
      [TraceKind.Hypercall, 3, 1, 17, 7, 4096],
      [TraceKind.Hypercall, 3, 1, 17, 10, -1],
      [TraceKind.Hypercall, 3, 1, 13, 0, -38],
    ]);
  });
});
