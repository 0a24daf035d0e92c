/**
 * SMP for HVM and PVHVM guests, end to end: the firmware's MADT lists the vCPUs, the reference kernel
 * finds it through the RSDP, starts each AP with INIT-SIPI-SIPI and gives it its own LAPIC (HVM) or
 * callback vector and PV timer (PVHVM); every CPU then takes its own timer interrupts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Consoles, Toolstack } from '../../../../core/api/index.js';
import { bootToolstackHost, guest, settle, type ToolstackHost } from '../../dom0/toolstack/harness.js';

const PLUGINS = ['xenconsoled', 'generic-kernel', 'device-model', 'uart16550', 'pit8254', 'rtc146818', 'xen-platform', 'acpi-pm'];
const cfg = (name: string, pci: 0 | 1, vcpus: number, kernel = 'generic'): string =>
  `name="${name}"\ntype="hvm"\nkernel="${kernel}"\nmemory=128\nvcpus=${vcpus}\nxen_platform_pci=${pci}\nserial="pty"\n`;

describe('SMP on HVM and PVHVM guests (MADT, INIT-SIPI-SIPI)', () => {
  let t: ToolstackHost;
  let ts: Toolstack;
  let cons: Consoles;

  beforeAll(async () => {
    t = await bootToolstackHost({ modes: ['pv', 'pvh', 'hvm', 'pvhvm'], plugins: PLUGINS, memoryMiB: 4096 });
    ts = t.host.plugins.resolveAll(Toolstack)[0]!;
    cons = t.host.plugins.resolveAll(Consoles)[0]!;
  }, 60_000);
  afterAll(async () => t?.cleanup());

  function runUntil(cond: () => boolean, what: string, limitNs = 5e9): void {
    const end = t.host.engine.now + limitNs;
    while (!cond()) {
      if (t.host.engine.now >= end) throw new Error(`timed out waiting for ${what}`);
      t.host.runFor(1e6);
    }
  }

  /** Creates a guest and runs until its shell prompt is up. */
  function boot(name: string, pci: 0 | 1, vcpus: number, kernel?: string): number {
    const job = settle(t.host, ts.create(guest(cfg(name, pci, vcpus, kernel), `/tmp/${name}.cfg`)));
    if (job.error) throw job.error;
    const domid = job.result!.domid;
    runUntil(() => cons.log(domid).includes('boot: up in') && /# $/.test(cons.log(domid)), `${name} to boot: ${cons.log(domid).slice(-400)}`);
    return domid;
  }

  /** Types `line` and returns what the shell printed up to its next prompt. */
  function shell(domid: number, line: string): string {
    const before = cons.log(domid).length;
    cons.input(domid, `${line}\r`);
    runUntil(() => /# $/.test(cons.log(domid).slice(before + line.length)), `"${line}" on dom${domid}`, 2e9);
    return cons.log(domid).slice(before);
  }

  /** `vmstat -i`'s timer counts by CPU. */
  function timerCounts(domid: number): Map<number, number> {
    const out = new Map<number, number>();
    for (const m of shell(domid, 'vmstat -i').matchAll(/^cpu(\d+):timer \([^)]*\)\s+(\d+)/gm)) out.set(Number(m[1]), Number(m[2]));
    return out;
  }

  /** Both CPUs' timers tick on their own over 100 ms of virtual time (10 hardclock ticks at 100 Hz). */
  function expectBothCpusTick(domid: number): void {
    const before = timerCounts(domid);
    t.host.runFor(0.1e9);
    const after = timerCounts(domid);
    expect([...after.keys()].sort()).toEqual([0, 1]);
    for (const cpu of [0, 1]) expect(after.get(cpu)! - (before.get(cpu) ?? 0), `cpu${cpu}`).toBeGreaterThanOrEqual(8);
  }

  it('plain HVM with vcpus=2: the MADT names two CPUs, the AP starts by INIT-SIPI-SIPI and runs its own LAPIC timer', () => {
    const domid = boot('hvm2', 0, 2);
    const log = cons.log(domid);
    expect(log).toMatch(/ACPI: RSDP 0xea020 \(v02 Xen\)/);
    expect(log).toMatch(/ACPI: APIC .* \(v02 Xen +HVM/);
    expect(log).toContain('ACPI APIC Table: <Xen HVM>');
    expect(log).toContain('FreeBSD/SMP: Multiprocessor System Detected: 2 CPUs');
    expect(log).toMatch(/lapic2: cpu1 xAPIC at 0xfee00000/);
    expect(log).toContain('SMP: AP CPU #1 Launched!');
    expect(log).toMatch(/acpi0: SCI on irq 9, PM1a at 0xb000 \(FADT at 0x[0-9a-f]+\)/);
    expect(shell(domid, 'sysctl hw.ncpu')).toContain('hw.ncpu: 2');
    expect(t.host.domains.get(domid)!.vcpus.map((v) => v.isUp)).toEqual([true, true]);
    expectBothCpusTick(domid);
    // A thread queued on cpu1 is woken by an IPI to its APIC ID (2), and cpu1's "done" IPI must reach
    // APIC 0: ~0.1 ms. An IPI sent to the wrong APIC ID is lost and the CPU waits for its next tick.
    const bench = shell(domid, 'mutexbench 2 20');
    expect(bench).toContain('acquisitions 40');
    expect(Number(/elapsed (\d+) ns/.exec(bench)![1])).toBeLessThan(500_000);
    settle(t.host, ts.destroy(domid));
  });

  it('PVHVM with vcpus=2: the AP binds its own callback vector, VIRQ_TIMER and IPI port, and ticks on the PV timer', () => {
    const domid = boot('pvhvm2', 1, 2);
    const log = cons.log(domid);
    expect(log).toContain('ACPI APIC Table: <Xen HVM>');
    expect(log).toContain('FreeBSD/SMP: Multiprocessor System Detected: 2 CPUs');
    expect(log).toMatch(/xenpci0: cpu1: callback vector 0x93/);
    expect(log).toContain('SMP: AP CPU #1 Launched!');
    expect(shell(domid, 'sysctl hw.ncpu')).toContain('hw.ncpu: 2');
    expectBothCpusTick(domid);
    expect(shell(domid, 'vmstat -i')).toMatch(/cpu1:timer \(evtchn \d+, VIRQ_TIMER\)/);
    settle(t.host, ts.destroy(domid));
  });

  it('vcpus=1 still boots one CPU, with the MADT saying so', () => {
    const domid = boot('hvm1', 0, 1);
    const log = cons.log(domid);
    expect(log).toContain('ACPI APIC Table: <Xen HVM>');
    expect(log).toContain('FreeBSD/SMP: Multiprocessor System Detected: 1 CPUs');
    expect(log).not.toContain('AP CPU');
    expect(shell(domid, 'sysctl hw.ncpu')).toContain('hw.ncpu: 1');
    settle(t.host, ts.destroy(domid));
  });

  it('a kernel without options SMP stays on the boot CPU of a two-vCPU PVHVM guest', () => {
    const domid = boot('nosmp', 1, 2, 'minimal');
    const log = cons.log(domid);
    expect(log).toContain('ACPI APIC Table: <Xen HVM>');
    expect(log).not.toContain('Multiprocessor System Detected');
    expect(shell(domid, 'sysctl hw.ncpu')).toContain('hw.ncpu: 1');
    expect(t.host.domains.get(domid)!.vcpus.map((v) => v.isUp)).toEqual([true, false]);
    settle(t.host, ts.destroy(domid));
  });
});
