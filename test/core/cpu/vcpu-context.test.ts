import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GPR_NAMES, MSR, SEGMENT_NAMES, VcpuContext, contextRecordProblems, type VcpuContextRecord } from '../../../core/cpu/vcpu-context.js';
import { CpuMask } from '../../../core/api/scheduler.js';
import { SchedulerRegistryImpl } from '../../../core/cpu/scheduler-registry.js';
import { ConfigError } from '../../../core/api/errors.js';
import { FifoScheduler } from './host.js';

const reg = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const segment = fc.record({ selector: fc.nat({ max: 0xffff }), base: reg, limit: fc.nat({ max: 0xffffffff }), attributes: fc.nat({ max: 0xffff }) });
const record: fc.Arbitrary<VcpuContextRecord> = fc.record({
  version: fc.constant(1 as const),
  gprs: fc.record(Object.fromEntries(GPR_NAMES.map((n) => [n, reg])) as Record<(typeof GPR_NAMES)[number], fc.Arbitrary<number>>),
  rip: reg,
  rflags: reg,
  cr0: reg,
  cr2: reg,
  cr3: reg,
  cr4: reg,
  efer: reg,
  segments: fc.record(Object.fromEntries(SEGMENT_NAMES.map((n) => [n, segment])) as Record<(typeof SEGMENT_NAMES)[number], typeof segment>),
  gdtr: fc.record({ base: reg, limit: fc.nat({ max: 0xffff }) }),
  idtr: fc.record({ base: reg, limit: fc.nat({ max: 0xffff }) }),
  msrs: fc.dictionary(fc.nat({ max: 0xffffffff }).filter((i) => i !== MSR.IA32_EFER).map((i) => `0x${i.toString(16)}`), reg),
});

describe('VcpuContext', () => {
  it('starts in the architectural reset state', () => {
    const c = new VcpuContext();
    expect(c.rip).toBe(0xfff0);
    expect(c.cs).toMatchObject({ selector: 0xf000, base: 0xffff0000 });
    expect(c.rflags).toBe(2);
    expect(c.cr0).toBe(0x60000010);
  });

  it('round-trips any state through snapshot and restore', () => {
    fc.assert(
      fc.property(record, (r) => {
        const c = VcpuContext.fromRecord(r);
        const again = c.snapshot();
        expect(again).toEqual({ ...r, msrs: Object.fromEntries(Object.entries(r.msrs).sort((a, b) => Number(a[0]) - Number(b[0]))) });
        expect(VcpuContext.fromRecord(JSON.parse(JSON.stringify(again)) as VcpuContextRecord).snapshot()).toEqual(again);
      }),
    );
  });

  it('snapshots are copies, not views', () => {
    const c = new VcpuContext();
    c.rax = 5;
    c.writeMsr(MSR.IA32_LSTAR, 0xffff8000);
    c.writeMsr(MSR.IA32_EFER, 0xd01);
    const snap = c.snapshot();
    c.rax = 6;
    c.cs.base = 1;
    expect(snap.gprs.rax).toBe(5);
    expect(snap.segments.cs.base).toBe(0xffff0000);
    expect(snap.msrs).toEqual({ '0xc0000082': 0xffff8000 });
    expect(snap.efer).toBe(0xd01);
  });

  it('rejects a bad record and leaves the context unchanged', () => {
    const c = new VcpuContext();
    c.rbx = 42;
    const bad = { ...c.snapshot(), version: 2 } as unknown as VcpuContextRecord;
    expect(() => c.restore(bad)).toThrow(/unsupported version 2/);
    const worse = { ...c.snapshot(), rip: -1, gprs: { ...c.snapshot().gprs, r9: 'x' } } as unknown as VcpuContextRecord;
    expect(contextRecordProblems(worse)).toEqual(['gprs.r9 must be a register value', 'rip must be a register value']);
    expect(() => c.restore(worse)).toThrow(/gprs.r9/);
    expect(c.rbx).toBe(42);
  });
});

describe('CpuMask', () => {
  it('parses and prints Xen cpulists', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat({ max: 200 })), (cpus) => {
        const m = CpuMask.of(...cpus);
        expect(CpuMask.parse(m.toString() || '0').equals(cpus.length ? m : CpuMask.of(0))).toBe(true);
        for (let c = 0; c <= 201; c++) expect(m.has(c)).toBe(cpus.includes(c));
      }),
    );
    expect(CpuMask.parse('0-3,6').toString()).toBe('0-3,6');
    expect(CpuMask.parse('all', 4).toString()).toBe('0-3');
    expect(() => CpuMask.parse('3-1')).toThrow(/empty range/);
    expect(CpuMask.of(1, 2).intersect(CpuMask.of(2, 3)).toString()).toBe('2');
  });
});

describe('SchedulerRegistry', () => {
  it('creates schedulers by name and lists the registered ones for an unknown name', () => {
    const r = new SchedulerRegistryImpl();
    r.register('fifo', () => new FifoScheduler());
    expect(r.create('fifo')).toBeInstanceOf(FifoScheduler);
    expect(r.create('fifo')).not.toBe(r.create('fifo'));
    expect(() => r.create('credit2')).toThrow(ConfigError);
    expect(() => r.create('credit2')).toThrow(/unknown scheduler "credit2" \(registered: fifo\)/);
    expect(() => r.register('fifo', () => new FifoScheduler())).toThrow(/already registered/);
  });
});
