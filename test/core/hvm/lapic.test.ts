import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { runOnVcpu } from '../../hypervisor/harness.js';
import { SchedOps } from '../../../core/cpu/sched-state.js';
import type { VcpuApi, VcpuCoroutine } from '../../../core/api/domain.js';
import { REG, LAPIC, apicBit, bootHvmHost, enableApic, ioreqServers, platforms, routePin, vcpuOf, waitInterrupt } from './helpers.js';

const HVM = 1;
let host: Host | undefined;
afterEach(async () => {
  await host?.shutdown();
  host = undefined;
});

describe('the emulated local APIC of an HVM vCPU', () => {
  it('a one-shot LAPIC timer wakes the halted vCPU; acceptInterrupt returns the vector and EOI clears the ISR', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm' }]));
    const h = host;
    const out = runOnVcpu(h, HVM, 0, function* (v) {
      yield* enableApic(v);
      yield* v.mmioWrite(LAPIC + REG.TDCR, 4, 0xb); // divide by 1: 100 MHz
      yield* v.mmioWrite(LAPIC + REG.LVTT, 4, 0x40); // one-shot, vector 0x40
      const armed = v.now;
      yield* v.mmioWrite(LAPIC + REG.TMICT, 4, 100_000); // 1 ms
      const before = v.acceptInterrupt();
      const { vector, at } = yield* waitInterrupt(v);
      const inService = yield* apicBit(v, REG.ISR, 0x40);
      yield* v.mmioWrite(LAPIC + REG.EOI, 4, 0);
      const afterEoi = yield* apicBit(v, REG.ISR, 0x40);
      return { armed, before, vector, at, inService, afterEoi, again: v.acceptInterrupt() };
    });
    expect(out.before).toBe(-1);
    expect(out.vector).toBe(0x40);
    expect(out.at - out.armed).toBeGreaterThanOrEqual(1_000_000 - 10_000);
    expect(out.inService).toBe(true);
    expect(out.afterEoi).toBe(false);
    expect(out.again).toBe(-1);
    const exits = platforms(h).exits(HVM);
    expect(exits.byReason.apic).toBe(7); // SVR, TDCR, LVTT, TMICT; ISR read, EOI, ISR read
    expect(exits.byReason.hlt).toBe(1);
    expect(exits.interrupts).toBe(1);
  });

  it('an ISA IRQ raised by a device model reaches the vCPU through the IO-APIC (IRQ 0 on GSI 2)', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm' }]));
    const h = host;
    const server = ioreqServers(h).create(HVM);
    h.engine.at(h.engine.now + 2_000_000, () => server.setIsaIrqLevel(4, true));
    h.engine.at(h.engine.now + 4_000_000, () => {
      server.setIsaIrqLevel(0, true);
      server.setIsaIrqLevel(0, false);
    });
    const out = runOnVcpu(h, HVM, 0, function* (v) {
      yield* enableApic(v);
      yield* routePin(v, 4, 0x54);
      yield* routePin(v, 2, 0x52);
      const com = yield* waitInterrupt(v);
      yield* v.mmioWrite(LAPIC + REG.EOI, 4, 0);
      const pit = yield* waitInterrupt(v);
      yield* v.mmioWrite(LAPIC + REG.EOI, 4, 0);
      return { com, pit };
    });
    expect(out.com.vector).toBe(0x54);
    expect(out.com.at).toBeGreaterThanOrEqual(2_000_000);
    expect(out.pit.vector).toBe(0x52);
    expect(out.pit.at).toBeGreaterThanOrEqual(4_000_000);
    expect(platforms(h).platformOf(HVM).ioApic!.level(4)).toBe(true);
    expect(platforms(h).platformOf(HVM).ioApic!.level(2)).toBe(false);
  });

  it('a PCI INTx is routed to GSI (((dev<<2)+(dev>>3)+intx)&31)+16, level-triggered until EOI and deassert', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm' }]));
    const h = host;
    const server = ioreqServers(h).create(HVM);
    // Device 3, INTB: ((12 + 0 + 1) & 31) + 16 = 29.
    h.engine.at(h.engine.now + 1_000_000, () => server.setPciIntxLevel(3, 1, true));
    const out = runOnVcpu(h, HVM, 0, function* (v) {
      yield* enableApic(v);
      yield* routePin(v, 29, 0x61, 0, true);
      const first = yield* waitInterrupt(v);
      yield* v.mmioWrite(LAPIC + REG.EOI, 4, 0); // still asserted: delivered again
      const second = v.acceptInterrupt();
      server.setPciIntxLevel(3, 1, false);
      yield* v.mmioWrite(LAPIC + REG.EOI, 4, 0);
      return { first: first.vector, second, third: v.acceptInterrupt() };
    });
    expect(out).toEqual({ first: 0x61, second: 0x61, third: -1 });
  });

  it('x2APIC: IA32_APIC_BASE switches modes and the ID register reads through MSR 0x802; each access is an msr exit', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm', vcpus: 2 }]));
    const h = host;
    const out = runOnVcpu(h, HVM, 1, function* (v) {
      const base = v.rdmsr(0x1b);
      v.wrmsr(0x1b, base | (1n << 10n));
      return { base, id: v.rdmsr(0x802), xapicPage: yield* v.mmioRead(LAPIC + REG.ID, 4) };
    });
    expect(out.base & 0xfffff000n).toBe(0xfee00000n);
    expect(out.base & (1n << 8n)).toBe(0n); // vCPU 1 is not the BSP
    expect(out.id).toBe(2n); // Xen: APIC ID = vcpu_id * 2
    expect(out.xapicPage).toBe(0xffffffff); // the MMIO page is gone in x2APIC mode
    expect(platforms(h).exits(HVM).byReason.msr).toBe(3);
  });

  it('INIT-SIPI from the BSP starts an AP at the guest code registered for vector << 12', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm', vcpus: 2 }]));
    const h = host;
    let apStarted: { vcpu: number; rip: number; at: number } | undefined;
    h.container.resolve(SchedOps).setEntryPoint(HVM, 0x9000, function* ap(v: VcpuApi): VcpuCoroutine {
      apStarted = { vcpu: v.vcpuId, rip: v.regs.rip, at: v.now };
      yield v.block();
    });
    const bsp = vcpuOf(h, HVM, 0);
    const out = runOnVcpu(h, HVM, 0, function* (v) {
      yield* enableApic(v);
      yield* v.mmioWrite(LAPIC + REG.ICR2, 4, 2 << 24); // APIC ID 2 = vCPU 1
      yield* v.mmioWrite(LAPIC + REG.ICR, 4, 0x4500); // INIT, assert
      const before = vcpuOf(h, HVM, 1).hasProgram;
      const t0 = v.now;
      yield* v.mmioWrite(LAPIC + REG.ICR, 4, 0x4600 | 0x09); // SIPI, vector 9
      return { before, sipiCost: v.now - t0 };
    });
    h.runFor(1_000_000);
    expect(out.before).toBe(false);
    expect(apStarted).toEqual({ vcpu: 1, rip: 0x9000, at: expect.any(Number) });
    // The ICR write is a VM exit plus a virtual IPI: ipiVirtual cycles in all.
    expect(out.sipiCost).toBeCloseTo(h.engine.cyclesToNs(h.engine.cost.ipiVirtual), 0);
    expect(bsp.hasProgram).toBe(true);
  });

  it('a SIPI to a running vCPU (not in wait-for-SIPI) is ignored', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm', vcpus: 2 }]));
    const h = host;
    let ran = 0;
    h.container.resolve(SchedOps).setEntryPoint(HVM, 0x9000, function* (v: VcpuApi): VcpuCoroutine {
      ran++;
      yield v.block();
    });
    runOnVcpu(h, HVM, 0, function* (v) {
      yield* enableApic(v);
      yield* v.mmioWrite(LAPIC + REG.ICR2, 4, 2 << 24);
      yield* v.mmioWrite(LAPIC + REG.ICR, 4, 0x4500);
      yield* v.mmioWrite(LAPIC + REG.ICR, 4, 0x4609);
      yield* v.mmioWrite(LAPIC + REG.ICR, 4, 0x4609); // second SIPI: the AP already runs
      return 0;
    });
    h.runFor(1_000_000);
    expect(ran).toBe(1);
  });
});
