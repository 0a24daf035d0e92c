import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { TraceKind } from '../../../core/engine/trace.js';
import { HardwareError } from '../../../core/api/errors.js';
import { PAGE_SIZE, X86_CR0_PG, type MachineFrame } from '../../../core/public/index.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import { buildPvDomain, pvMmOf, type PvDomain } from './helpers.js';

let host: Host;
let a: PvDomain;
const X86_CR0_TS = 1 << 3;

beforeEach(async () => {
  ({ host } = await bootTestHost());
  a = buildPvDomain(host, 256);
});
afterEach(async () => {
  await host.shutdown();
});

/** Runs `fn` once and expects #GP. */
function gp(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(HardwareError);
  expect((caught as HardwareError).code).toBe('gp');
}

describe('emulatePrivileged', () => {
  it('reads control registers, charges trapEmulate, counts and traces each trap', () => {
    const mm = pvMmOf(host);
    const v = vcpuOf(host, a.domid);
    const traps: number[] = [];
    host.engine.trace.subscribe((r) => {
      if (r.kind === TraceKind.Trap && r.domid === a.domid) traps.push(r.a);
    });
    const before = v.localTime;
    expect(mm.emulatePrivileged(a.domid, 0, 'read-cr3', 0)).toBe(a.l4 * PAGE_SIZE);
    expect(mm.emulatePrivileged(a.domid, 0, 'read-cr0', 0) & X86_CR0_PG).toBe(X86_CR0_PG);
    expect(v.localTime - before).toBeCloseTo((2 * host.engine.cost.trapEmulate * 1000) / host.engine.cost.cpuMhz, 3);
    expect(mm.stats(a.domid).traps).toBe(2);
    expect(traps).toHaveLength(2);
  });

  it('lets CR0.TS change and nothing else (#GP)', () => {
    const mm = pvMmOf(host);
    const cr0 = vcpuOf(host, a.domid).context.cr0;
    expect(mm.emulatePrivileged(a.domid, 0, 'write-cr0', cr0 | X86_CR0_TS)).toBe(0);
    expect(vcpuOf(host, a.domid).context.cr0 & X86_CR0_TS).toBe(X86_CR0_TS);
    gp(() => mm.emulatePrivileged(a.domid, 0, 'write-cr0', cr0 & ~X86_CR0_PG));
    expect(vcpuOf(host, a.domid).context.cr0 & X86_CR0_PG).toBe(X86_CR0_PG);
  });

  it('write-cr3 is new_guest_cr3: a validated L4 is taken, anything else is #GP and changes nothing', () => {
    const mm = pvMmOf(host);
    gp(() => mm.emulatePrivileged(a.domid, 0, 'write-cr3', a.l1s[0]! * PAGE_SIZE));
    expect(vcpuOf(host, a.domid).context.cr3).toBe(a.l4 * PAGE_SIZE);
    expect(mm.pageInfo(a.l1s[0] as MachineFrame)).toEqual({ type: 'l1', typeCount: 1, pinned: false });
    expect(mm.emulatePrivileged(a.domid, 0, 'write-cr3', a.l4 * PAGE_SIZE)).toBe(0);
    expect(mm.pageInfo(a.l4 as MachineFrame).typeCount).toBe(1);
  });

  it('lidt and lgdt are #GP; cli/sti are #GP with IOPL 0 and accepted (as no-ops) with IOPL 1', () => {
    const mm = pvMmOf(host);
    gp(() => mm.emulatePrivileged(a.domid, 0, 'lidt', 0));
    gp(() => mm.emulatePrivileged(a.domid, 0, 'lgdt', 0));
    gp(() => mm.emulatePrivileged(a.domid, 0, 'cli', 0));
    vcpuOf(host, a.domid).context.rflags |= 1 << 12;
    expect(mm.emulatePrivileged(a.domid, 0, 'cli', 0)).toBe(0);
    expect(mm.emulatePrivileged(a.domid, 0, 'sti', 0)).toBe(0);
    expect(mm.emulatePrivileged(a.domid, 0, 'wbinvd', 0)).toBe(0);
    expect(mm.stats(a.domid).traps).toBe(6);
  });

  it('invlpg drops the cached translation', () => {
    const g = vcpuOf(host, a.domid).guest;
    g.readU32(20 * PAGE_SIZE);
    const tlb = host.guestAccessOf(a.domid, 0)!.mmu!.tlb;
    const held = tlb.size;
    pvMmOf(host).emulatePrivileged(a.domid, 0, 'invlpg', 20 * PAGE_SIZE);
    expect(tlb.size).toBe(held - 1);
  });
});

describe('emulateIo', () => {
  it('reads all ones, drops writes, and counts each access as a trap', () => {
    const mm = pvMmOf(host);
    expect(mm.emulateIo(a.domid, 0, 'pio', 0x3f8, 1, false, 0)).toBe(0xff);
    expect(mm.emulateIo(a.domid, 0, 'pio', 0xcfc, 4, false, 0)).toBe(0xffffffff);
    expect(mm.emulateIo(a.domid, 0, 'mmio', 0xfee00000, 2, true, 5)).toBe(0);
    expect(mm.stats(a.domid).traps).toBe(3);
    gp(() => mm.emulateIo(a.domid, 0, 'pio', 0x80, 8, false, 0));
  });
});
