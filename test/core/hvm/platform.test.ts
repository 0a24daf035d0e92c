import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { runOnVcpu } from '../../hypervisor/harness.js';
import { apicMmioWrite } from '../../../core/apic/index.js';
import { TraceKind } from '../../../core/engine/trace.js';
import { EventChannels } from '../../../core/api/event-channel.js';
import { PvMm } from '../../../core/api/pv-mm.js';
import { domId, evtchnPort } from '../../../core/public/types.js';
import type { VcpuApi, VcpuCoroutine } from '../../../core/api/domain.js';
import { IOAPIC, LAPIC, REG, bootHvmHost, bootShadowHost, enableApic, ioreqServers, platforms, vcpuOf, waitInterrupt } from './helpers.js';

let host: Host | undefined;
afterEach(async () => {
  await host?.shutdown();
  host = undefined;
});

describe('the HVM platform per guest mode', () => {
  it('wild MMIO reads all ones and is counted and logged naming the domain; another domain runs on unaffected', async () => {
    const booted = await bootHvmHost([{ name: 'hostile', type: 'hvm' }, { name: 'bystander', type: 'hvm' }]);
    host = booted.host;
    const h = host;
    // The bystander sleeps 1 ms ten times and counts; it must finish on time whatever dom1 does.
    const ticks: number[] = [];
    vcpuOf(h, 2).setProgram(function* (v: VcpuApi): VcpuCoroutine {
      for (let i = 0; i < 10; i++) {
        yield v.sleepFor(1_000_000);
        ticks.push(v.now);
      }
      yield v.block();
    });
    const start = h.engine.now;
    const reads = runOnVcpu(h, 1, 0, function* (v) {
      const values: number[] = [];
      for (let i = 0; i < 100; i++) {
        values.push(yield* v.mmioRead(0xe000_0000 + i * 8, 4));
        v.compute(10_000);
        yield v.preempt();
      }
      yield* v.mmioWrite(0xd000_0000, 8, 0x1234);
      return values;
    });
    h.runFor(12_000_000);
    expect(new Set(reads)).toEqual(new Set([0xffffffff]));
    expect(platforms(h).exits(1).wild).toBe(101);
    expect(platforms(h).exits(1).byReason.mmio).toBe(101);
    expect(platforms(h).exits(2).total).toBe(0);
    expect(ticks).toHaveLength(10);
    expect(ticks[9]! - start).toBeLessThan(10_000_000 + 1_000_000);
    const warnings = booted.logs.lines('warn').filter((l) => l.includes('unclaimed'));
    expect(warnings[0]).toMatch(/dom1 .*0xe0000000/);
    expect(warnings.length).toBeLessThanOrEqual(8); // rate-limited: 1, 2, 4, ... 64
  });

  it('PVH: a vLAPIC but no IO-APIC and no device model; nothing is forwarded', async () => {
    ({ host } = await bootHvmHost([{ name: 'pvh', type: 'pvh' }]));
    const h = host;
    const out = runOnVcpu(h, 1, 0, function* (v) {
      yield* enableApic(v);
      return { id: yield* v.mmioRead(LAPIC + REG.ID, 4), ioapic: yield* v.mmioRead(IOAPIC, 4), port: yield* v.inPort(0x3f8, 1) };
    });
    expect(out).toEqual({ id: 0, ioapic: 0xffffffff, port: 0xff });
    expect(platforms(h).platformOf(1).ioApic).toBeUndefined();
    expect(() => ioreqServers(h).create(1)).toThrow(/PVH/);
    const exits = platforms(h).exits(1);
    expect(exits.forwarded).toBe(0);
    expect(exits.wild).toBe(2);
  });

  it("PVH: the vLAPICs are made on first use, every vCPU's at once, in reset state; an IPI reaches a sibling that never touched its own", async () => {
    ({ host } = await bootHvmHost([{ name: 'pvh', type: 'pvh', vcpus: 2 }]));
    const h = host;
    const platform = platforms(h).platformOf(1);
    expect(platform.vcpus.map((s) => s.lapicMade)).toEqual([undefined, undefined]);
    // Nothing pending without a vLAPIC, and asking does not make one.
    expect(runOnVcpu(h, 1, 0, function* (v) {
      yield* [];
      return v.acceptInterrupt();
    })).toBe(-1);
    expect(platform.vcpus[0]!.lapicMade).toBeUndefined();
    const svr = runOnVcpu(h, 1, 0, function* (v) {
      return yield* v.mmioRead(LAPIC + REG.SVR, 4);
    });
    expect(svr).toBe(0xff); // the reset SVR: software-disabled, spurious vector 0xFF
    expect(platform.vcpus.every((s) => s.lapicMade !== undefined)).toBe(true);
    // vCPU 1's vLAPIC, made along with vCPU 0's, is on the APIC bus: software-enable it as its kernel
    // would, then vCPU 0 sends it a fixed IPI (vector 0x40, APIC ID 2).
    apicMmioWrite(platform.vcpus[1]!.lapic, REG.SVR, 4, 0x1ff);
    runOnVcpu(h, 1, 0, function* (v) {
      yield* enableApic(v);
      yield* v.mmioWrite(LAPIC + REG.ICR2, 4, 2 << 24);
      yield* v.mmioWrite(LAPIC + REG.ICR, 4, 0x40);
    });
    h.runFor(1e6);
    expect(platform.vcpus[1]!.lapic.pendingVector).toBe(0x40);
  });

  it('PV vCPUs trap to the PV MMU instead: no HVM exits, the trap is counted there', async () => {
    ({ host } = await bootHvmHost([{ name: 'pv', type: 'pv' }]));
    const h = host;
    const pvMm = h.container.resolve(PvMm);
    const before = pvMm.stats(1).traps;
    const port = runOnVcpu(h, 1, 0, function* (v) {
      v.privileged('read-cr0');
      return yield* v.inPort(0x3f8, 1);
    });
    expect(port).toBe(0xff);
    expect(pvMm.stats(1).traps).toBeGreaterThan(before);
    expect(platforms(h).has(1)).toBe(false);
  });

  it('PVHVM domains get the same platform as HVM ones: an IO-APIC and ioreq servers', async () => {
    ({ host } = await bootHvmHost([]));
    const d = host.domains.create({ mode: 'pvhvm', vcpus: 2 });
    expect(platforms(host).platformOf(d.domid).ioApic?.pins).toBe(48);
    expect(ioreqServers(host).create(d.domid).domid).toBe(d.domid);
    expect(platforms(host).platformOf(d.domid).vcpus.map((s) => s.lapic.apicId)).toEqual([0, 2]);
  });

  it('HVM: an IO-APIC with 48 pins answering its version register; PV domains have no platform', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm' }, { name: 'pv', type: 'pv' }]));
    const h = host;
    const version = runOnVcpu(h, 1, 0, function* (v) {
      yield* v.mmioWrite(IOAPIC, 4, 1);
      return yield* v.mmioRead(IOAPIC + 0x10, 4);
    });
    expect(version).toBe((47 << 16) | 0x11);
    expect(platforms(h).has(2)).toBe(false);
    expect(() => platforms(h).exits(2)).toThrow(/PV/);
    expect(() => platforms(h).exits(9)).toThrow(/ESRCH|9/);
  });

  it('counts exits per reason and records each on the trace; HAP makes CR3 writes and INVLPG native', async () => {
    ({ host } = await bootHvmHost([{ name: 'hvm', type: 'hvm' }]));
    const h = host;
    const traced = h.engine.trace.count(TraceKind.VmExit);
    h.engine.at(h.engine.now + 500_000, () => vcpuOf(h, 1).kick());
    runOnVcpu(h, 1, 0, function* (v) {
      v.cpuid(0);
      v.cpuid(0x4000_0000);
      v.rdmsr(0x1b);
      v.privileged('write-cr0', 0x8000_0011);
      v.privileged('write-cr4', 0x20);
      v.privileged('write-cr3', 0x5000);
      v.privileged('invlpg', 0x1000);
      v.privileged('read-cr3');
      v.privileged('wbinvd');
      v.privileged('sti');
      yield* v.outPort(0x80, 1, 0);
      yield v.halt();
      return 0;
    }, 2_000_000);
    const exits = platforms(h).exits(1);
    expect(exits.byReason).toMatchObject({ cpuid: 2, msr: 1, cr: 2, invlpg: 0, wbinvd: 1, io: 1, hlt: 1 });
    expect(exits.total).toBe(8);
    expect(h.engine.trace.count(TraceKind.VmExit) - traced).toBe(8);
    const regs = vcpuOf(h, 1).context;
    expect(regs.cr3).toBe(0x5000);
    expect(regs.rflags & (1 << 9)).not.toBe(0);
  });

  it('shadow paging: CR3 reads and writes and INVLPG exit too', async () => {
    host = await bootShadowHost([{ name: 'hvm', type: 'hvm' }]);
    runOnVcpu(host, 1, 0, function* (v) {
      v.privileged('write-cr3', 0x5000);
      v.privileged('read-cr3');
      v.privileged('invlpg', 0x1000);
      v.privileged('read-cr0');
      return 0;
    });
    expect(platforms(host).exits(1).byReason).toMatchObject({ cr: 2, invlpg: 1 });
    expect(platforms(host).dump()).toMatch(/dom1 \(hvm, shadow\)/);
  });

  it('an event channel with an upcall vector wakes a halted HVM vCPU, which takes the vector from its vLAPIC', async () => {
    ({ host } = await bootHvmHost([{ name: 'pvhvm', type: 'hvm' }]));
    const h = host;
    const evtchn = h.container.resolve(EventChannels);
    const port = evtchn.allocUnbound(domId(1), domId(0));
    const dom0Port = evtchn.bindInterdomain(domId(0), domId(1), port);
    evtchn.setUpcallVector(domId(1), 0, 0xf3);
    h.engine.at(h.engine.now + 3_000_000, () => evtchn.notify(domId(0), evtchnPort(dom0Port)));
    const out = runOnVcpu(h, 1, 0, function* (v) {
      yield* enableApic(v);
      const taken = yield* waitInterrupt(v);
      yield* v.mmioWrite(LAPIC + REG.EOI, 4, 0);
      return taken;
    });
    expect(out.vector).toBe(0xf3);
    expect(out.at).toBeGreaterThanOrEqual(3_000_000);
    expect(platforms(h).exits(1).interrupts).toBe(1);
  });

  it('destroying a domain releases its platform: vLAPIC timers stop, servers go, other domains carry on', async () => {
    ({ host } = await bootHvmHost([{ name: 'a', type: 'hvm' }, { name: 'b', type: 'hvm' }]));
    const h = host;
    const platform = platforms(h).platformOf(1);
    const server = ioreqServers(h).create(1);
    server.mapRange('pio', 0x60, 0x64);
    runOnVcpu(h, 1, 0, function* (v) {
      yield* enableApic(v);
      yield* v.mmioWrite(LAPIC + REG.LVTT, 4, 0x20040); // periodic, vector 0x40
      yield* v.mmioWrite(LAPIC + REG.TMICT, 4, 10_000);
      return 0;
    });
    expect(platform.vcpus[0]!.lapic.timer.armed).toBe(true);
    // vCPU 0 waits on a port read nobody answers when the domain dies.
    vcpuOf(h, 1).setProgram(function* (v: VcpuApi): VcpuCoroutine {
      yield* v.inPort(0x60, 1);
      yield v.block();
    });
    h.runFor(1_000_000);
    expect(platform.vcpus[0]!.pending).not.toBeNull();
    h.domains.destroy(1);
    h.runFor(1_000_000);
    expect(platform.vcpus[0]!.lapic.timer.armed).toBe(false);
    expect(platforms(h).has(1)).toBe(false);
    expect(ioreqServers(h).serversOf(1)).toEqual([]);
    expect(() => server.mapRange('pio', 0x70, 0x71)).toThrow(/destroy/);
    const value = runOnVcpu(h, 2, 0, function* (v) {
      return yield* v.mmioRead(IOAPIC, 4);
    });
    expect(value).toBe(0);
    expect(platforms(h).dump()).toMatch(/dom2 \(hvm, hap\)/);
  });
});
