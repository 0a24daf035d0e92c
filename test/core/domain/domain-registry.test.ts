import { describe, expect, it } from 'vitest';
import { FifoScheduler, MS, makeHost, spin } from '../cpu/host.js';
import type { DomainState } from '../../../core/api/domain.js';
import { GuestError } from '../../../core/api/errors.js';
import { TraceKind, type TraceRecord } from '../../../core/engine/trace.js';
import { DOMID_FIRST_RESERVED } from '../../../core/public/xen.js';
import { machineFrame } from '../../../core/public/types.js';

function errno(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof GuestError) return e.code;
    throw e;
  }
  return undefined;
}

describe('DomainRegistry', () => {
  it('makes domain 0 privileged and allocates other domids upwards from 1', () => {
    const h = makeHost(new FifoScheduler());
    const dom0 = h.domains.create({ domid: 0 });
    expect(dom0.privileged).toBe(true);
    expect(dom0.name).toBe('Domain-0');
    const ids = [h.domains.create(), h.domains.create(), h.domains.create()].map((d) => d.domid);
    expect(ids).toEqual([1, 2, 3]);
    expect(h.domains.get(2)!.privileged).toBe(false);
  });

  it('keeps allocating from the last domid handed out, skipping ids in use, and wraps below DOMID_FIRST_RESERVED', () => {
    const h = makeHost(new FifoScheduler());
    h.domains.create({ domid: 0 });
    const a = h.domains.create();
    h.domains.create();
    h.domains.destroy(a.domid);
    expect(h.domains.create().domid).toBe(3);
    h.domains.create({ domid: 5 });
    expect(h.domains.create().domid).toBe(4);
    expect(h.domains.create().domid).toBe(6);
    h.domains.create({ domid: DOMID_FIRST_RESERVED - 1 });
    for (const d of h.domains.list()) if (d.domid > 6 || d.domid === 2) h.domains.destroy(d.domid);
    // Rover is at 6 and the top id was freed again: allocation continues upward, not from the hole at 1.
    expect(h.domains.create().domid).toBe(7);
  });

  it('wraps to 1 after the last ordinary domid', () => {
    const h = makeHost(new FifoScheduler());
    h.domains.create({ domid: DOMID_FIRST_RESERVED - 2 });
    const top = h.domains.create();
    expect(top.domid).toBe(1);
    const d = h.domains.create();
    expect(d.domid).toBe(2);
  });

  it('checks explicit domid requests', () => {
    const h = makeHost(new FifoScheduler());
    h.domains.create({ domid: 7 });
    expect(errno(() => h.domains.create({ domid: 7 }))).toBe('EEXIST');
    expect(errno(() => h.domains.create({ domid: DOMID_FIRST_RESERVED }))).toBe('EINVAL');
    expect(errno(() => h.domains.create({ domid: -1 }))).toBe('EINVAL');
    expect(errno(() => h.domains.create({ vcpus: 0 }))).toBe('EINVAL');
  });

  it('creates domains paused, as Xen does, unless told otherwise', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create();
    expect(d.state).toBe('paused');
    expect(d.pauseCount).toBe(1);
    h.domains.unpause(d.domid);
    expect(d.state).toBe('blocked');
    expect(h.domains.create({ paused: false }).state).toBe('blocked');
  });

  it('counts pauses: the domain runs again only when every pause is undone', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    d.vcpus[0]!.setProgram(spin);
    h.engine.runFor(MS);
    expect(d.state).toBe('running');
    h.domains.pause(d.domid);
    h.domains.pause(d.domid);
    h.domains.unpause(d.domid);
    h.engine.runFor(5 * MS);
    expect(d.state).toBe('paused');
    expect(d.vcpus[0]!.runstate).toBe('offline');
    h.domains.unpause(d.domid);
    h.engine.runFor(MS);
    expect(d.state).toBe('running');
    expect(errno(() => h.domains.unpause(d.domid))).toBe('EINVAL');
  });

  it('shuts a domain down with a reason, pausing its vCPUs, once', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    d.vcpus[0]!.setProgram(spin);
    h.engine.runFor(MS);
    h.domains.shutdown(d.domid, 'reboot');
    h.domains.shutdown(d.domid, 'poweroff');
    h.engine.runFor(5 * MS);
    expect(d.state).toBe('shutdown');
    expect(d.shutdownReason).toBe('reboot');
    expect(d.vcpus[0]!.runstate).toBe('offline');
  });

  it('destroys a domain: frames released, container disposed, vCPUs stopped, domid freed', () => {
    const h = makeHost(new FifoScheduler(), { frames: 64 });
    const d = h.domains.create({ paused: false, maxPages: 32, pages: 10 });
    let disposed = false;
    d.container.register('probe', { useValue: { dispose: () => (disposed = true) } });
    d.container.resolve('probe');
    d.vcpus[0]!.setProgram(spin);
    h.engine.runFor(2 * MS);
    expect(h.memory.framesOf(d.domid)).toBe(10);
    expect(d.totPages).toBe(10);
    h.domains.destroy(d.domid);
    expect(h.memory.framesOf(d.domid)).toBe(0);
    expect(h.memory.freeFrames).toBe(64);
    expect(d.state).toBe('dead');
    expect(h.domains.get(d.domid)).toBeUndefined();
    expect(d.vcpus[0]!.runstate).toBe('offline');
    expect(() => d.container.resolve('probe')).toThrow(/disposed/);
    h.engine.runFor(5 * MS);
    expect(h.pool.pcpu(0 as never).current).toBeNull();
    expect(h.domains.create({ domid: d.domid }).domid).toBe(d.domid);
    void disposed;
  });

  it('refuses to destroy dom0 and unknown domains', () => {
    const h = makeHost(new FifoScheduler());
    h.domains.create({ domid: 0 });
    expect(errno(() => h.domains.destroy(0))).toBe('EPERM');
    expect(errno(() => h.domains.destroy(42))).toBe('ESRCH');
    expect(errno(() => h.domains.lookup(42))).toBe('ESRCH');
  });

  it('accounts memory against max_pages and the host', () => {
    const h = makeHost(new FifoScheduler(), { frames: 16 });
    const d = h.domains.create({ maxPages: 8 });
    const frames = d.allocatePages(6);
    expect(frames).toHaveLength(6);
    expect(errno(() => d.allocatePages(3))).toBe('E2BIG');
    d.freePage(frames[0]!);
    expect(d.totPages).toBe(5);
    const e = h.domains.create({ maxPages: 100 });
    expect(errno(() => e.allocatePages(12))).toBe('ENOMEM');
    expect(e.totPages).toBe(0);
    expect(errno(() => e.freePage(machineFrame(frames[1]!)))).toBe('EINVAL');
    expect(errno(() => h.domains.create({ maxPages: 4, pages: 5 }))).toBe('E2BIG');
    expect(h.domains.size).toBe(2);
  });

  it('emits created, stateChanged and destroyed events and traces every state change but running and blocked', () => {
    const h = makeHost(new FifoScheduler());
    const seen: string[] = [];
    const states: TraceRecord[] = [];
    h.engine.trace.subscribe((r) => {
      if (r.kind === TraceKind.DomainState) states.push({ ...r });
    });
    h.domains.events.on('created', (d) => seen.push(`created ${d.domid} ${d.state}`));
    h.domains.events.on('stateChanged', (d, from: DomainState, to: DomainState) => seen.push(`${d.domid} ${from}->${to}`));
    h.domains.events.on('destroyed', (id) => seen.push(`destroyed ${id}`));
    const d = h.domains.create();
    h.domains.unpause(d.domid);
    let whileRunning = '';
    d.vcpus[0]!.setProgram(function* (v) {
      whileRunning = d.state;
      v.compute(1000);
      yield v.block();
    });
    h.engine.runFor(MS);
    // Running and blocked are read from the vCPUs, not reported.
    expect(whileRunning).toBe('running');
    expect(d.state).toBe('blocked');
    h.domains.destroy(d.domid);
    expect(seen).toEqual([
      'created 1 paused',
      '1 paused->blocked',
      '1 blocked->dying',
      '1 dying->dead',
      'destroyed 1',
    ]);
    expect(states.map((r) => r.a)).toEqual([2, 1, 4, 5]);
    expect(states.every((r) => r.domid === 1)).toBe(true);
  });

  it('records the shutdown reason code in the trace', () => {
    const h = makeHost(new FifoScheduler());
    const d = h.domains.create({ paused: false });
    const recs: TraceRecord[] = [];
    h.engine.trace.subscribe((r) => {
      if (r.kind === TraceKind.DomainState) recs.push({ ...r });
    });
    h.domains.shutdown(d.domid, 'watchdog');
    expect(recs).toEqual([expect.objectContaining({ domid: d.domid, a: 3, b: 4, c: 1 })]);
  });

  it('lists domains in domid order and dumps them', () => {
    const h = makeHost(new FifoScheduler());
    h.domains.create({ domid: 9, name: 'nine' });
    h.domains.create({ domid: 0 });
    expect(h.domains.list().map((d) => d.domid)).toEqual([0, 9]);
    expect(h.domains.dump()).toMatch(/Domain-0[\s\S]*nine\s+9 pv/);
  });
});
