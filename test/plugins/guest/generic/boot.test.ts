/** The generic kernel booted by the toolstack: its boot log on the console ring, its xenstore nodes, control/shutdown and the shell, for PVH and PV. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../../core/host/host.js';
import { TraceKind } from '../../../../core/engine/index.js';
import { Hypercall, SCHEDOP, VcpuInfo } from '../../../../core/public/index.js';
import { ConsoleBackend, bootHost, dom0Store, record, runUntil, watchShutdowns } from './helpers.js';

let host: Host | undefined;
afterEach(async () => {
  await host?.shutdown();
  host = undefined;
});

/** Boots one guest of `type`, attaches the console backend, runs until the shell prompt. */
async function booted(type: 'pv' | 'pvh', cmdline = 'console=xc0 boot_verbose') {
  ({ host } = await bootHost([{ name: 'g', type, cmdline }]));
  const h = host;
  const shutdowns = watchShutdowns(h);
  expect(runUntil(h, () => h.toolstack?.list().some((d) => d.name === 'g') ?? false, 1e9)).toBe(true);
  const console = ConsoleBackend.attach(h, 'g');
  expect(runUntil(h, () => console.output.endsWith('# '), 1e9)).toBe(true);
  return { host: h, console, domid: record(h, 'g').domid, shutdowns };
}

/** Types `line` and runs until the next prompt; returns what the shell printed in between. */
function command(h: Host, console: ConsoleBackend, line: string): string {
  const mark = console.output.length;
  console.type(`${line}\r`);
  expect(runUntil(h, () => console.since(mark).endsWith('\r\n# '), 1e9)).toBe(true);
  return console.since(mark);
}

describe.each(['pvh', 'pv'] as const)('generic kernel, %s guest', (type) => {
  it('writes a FreeBSD-style boot log into the console ring, CR LF terminated, and ends at the prompt', async () => {
    const { console } = await booted(type);
    const lines = console.output.split('\r\n');
    expect(lines[0]).toBe('---<<BOOT>>---');
    expect(lines).toContain('Hypervisor: Origin = "XenVMMXenVMM" (CPUID base 0x40000000)');
    expect(lines).toContain(`XEN: ${type.toUpperCase()} guest, using xen_${type}_init_ops`);
    expect(lines).toContain('Command line: console=xc0 boot_verbose');
    expect(lines).toContain('real memory  = 16777216 (16 MB)');
    expect(lines.some((l) => /^Xen version 4\.17/.test(l))).toBe(true);
    const tree = ['xenpv0: <Xen PV bus> on nexus0', 'xc0: <Xen Console> on xenpv0', 'xenstore0: <XenStore> on xenpv0', 'xctrl0: <Xen Control Device> on xenstore0'];
    const at = tree.map((l) => lines.indexOf(l));
    expect(at.every((i) => i > 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(lines).toContain('xenstore0: domain "g", domid 1');
    expect(console.output.endsWith('\r\n# ')).toBe(true);
  });

  it('advertises poweroff, reboot and suspend in its control directory', async () => {
    const { host: h, domid } = await booted(type);
    const xs = dom0Store(h);
    for (const f of ['feature-poweroff', 'feature-reboot', 'feature-suspend']) expect(xs.read(`/local/domain/${domid}/control/${f}`)).toBe('1');
  });

  it('powers off when Dom0 writes control/shutdown = poweroff: acknowledges with "", says so, then SCHEDOP_shutdown(poweroff)', async () => {
    const { host: h, console, domid, shutdowns } = await booted(type);
    const xs = dom0Store(h);
    const node = `/local/domain/${domid}/control/shutdown`;
    const values: { value: string | undefined; shutDown: boolean }[] = [];
    xs.watch(node, () => values.push({ value: xs.read(node), shutDown: shutdowns.length > 0 }));
    xs.write(node, 'poweroff');
    expect(runUntil(h, () => shutdowns.length > 0, 1e9)).toBe(true);
    expect(shutdowns).toEqual([{ domid, reason: 'poweroff' }]);
    const acked = values.findIndex((v) => v.value === '' && values.slice(0, values.indexOf(v)).some((w) => w.value === 'poweroff'));
    expect(acked).toBeGreaterThan(0);
    expect(values[acked]!.shutDown).toBe(false);
    expect(console.output).toContain('xctrl0: poweroff requested\r\nShutting down\r\nUptime: 0s\r\nPowering off...\r\n');
  });

  it('echoes typed characters, handles backspace, and answers help, uptime, echo and unknown commands', async () => {
    const { host: h, console } = await booted(type);
    const help = command(h, console, 'help');
    expect(help.startsWith('help\r\n')).toBe(true);
    for (const c of ['dmesg', 'echo', 'help', 'poweroff', 'reboot', 'uptime']) expect(help).toMatch(new RegExp(`\\r\\n${c} +\\S`));
    const up = command(h, console, 'uptime');
    const ns = Number(/up \d+\.\d{6} s \((\d+) ns\)/.exec(up)?.[1]);
    expect(ns).toBeGreaterThan(0);
    expect(ns).toBeLessThanOrEqual(h.engine.now);
    const later = command(h, console, 'uptime');
    expect(Number(/\((\d+) ns\)/.exec(later)?.[1])).toBeGreaterThan(ns);
    expect(command(h, console, 'echx\x7fo  hello   world')).toBe('echx\b \bo  hello   world\r\nhello world\r\n# ');
    expect(command(h, console, 'frobnicate now')).toBe('frobnicate now\r\nfrobnicate: not found\r\n# ');
    expect(command(h, console, '')).toBe('\r\n# ');
  });

  it('prints the boot log again with dmesg, and powers off from the shell', async () => {
    const { host: h, console, domid, shutdowns } = await booted(type);
    const bootLog = console.output.slice(0, console.output.lastIndexOf('# '));
    const dmesg = command(h, console, 'dmesg');
    expect(dmesg.startsWith(`dmesg\r\n${bootLog}`)).toBe(true);
    console.type('poweroff\r');
    expect(runUntil(h, () => shutdowns.length > 0, 1e9)).toBe(true);
    expect(shutdowns).toEqual([{ domid, reason: 'poweroff' }]);
  });
});

describe('generic kernel, control/shutdown requests', () => {
  it.each([
    ['reboot', 'reboot', 'Rebooting...'],
    ['halt', 'poweroff', 'The operating system has halted.'],
    ['crash', 'crash', 'panic: Xen directed crash'],
  ] as const)('%s → SCHEDOP_shutdown(%s)', async (request, reason, says) => {
    const { host: h, console, domid, shutdowns } = await booted('pvh');
    dom0Store(h).write(`/local/domain/${domid}/control/shutdown`, request);
    expect(runUntil(h, () => shutdowns.length > 0, 1e9)).toBe(true);
    expect(shutdowns).toEqual([{ domid, reason }]);
    expect(console.output).toContain(`xctrl0: ${request} requested\r\n`);
    expect(console.output).toContain(`${says}\r\n`);
  });

  it('acknowledges suspend, says so and makes SCHEDOP_shutdown(SHUTDOWN_suspend); the toolstack preserves the domain', async () => {
    const { host: h, console, domid, shutdowns } = await booted('pvh');
    const xs = dom0Store(h);
    const node = `/local/domain/${domid}/control/shutdown`;
    xs.write(node, 'suspend');
    expect(runUntil(h, () => shutdowns.length > 0, 1e9)).toBe(true);
    expect(xs.read(node)).toBe('');
    expect(shutdowns).toEqual([{ domid, reason: 'suspend' }]);
    expect(console.output).toContain('xctrl0: suspend requested\r\nxctrl0: suspending\r\n');
  });
});

describe('generic kernel, idling and back-pressure', () => {
  it('a PVH kernel with nothing to do sleeps in SCHEDOP_poll: a second of idle costs almost no CPU', async () => {
    const { host: h, domid } = await booted('pvh');
    const vcpu = h.domains.lookup(domid).vcpus[0]!;
    const before = vcpu.runstateInfo().time.running;
    h.runFor(1e9);
    const info = vcpu.runstateInfo();
    expect(info.time.running - before).toBeLessThan(1e5);
    expect(info.state).toBe('blocked');
  });

  it('a PV kernel with nothing to do idles in SCHEDOP_block, upcalls unmasked, once per tick: a second of idle costs little CPU', async () => {
    const { host: h, domid, console } = await booted('pv');
    const vcpu = h.domains.lookup(domid).vcpus[0]!;
    const before = vcpu.runstateInfo().time.running;
    const calls = new Map<number, number>();
    const stop = h.engine.trace.subscribe((r) => {
      if (r.kind === TraceKind.Hypercall && r.domid === domid && r.a === Hypercall.sched_op) calls.set(r.b, (calls.get(r.b) ?? 0) + 1);
    });
    h.runFor(1e9);
    stop();
    expect(vcpu.runstateInfo().time.running - before).toBeLessThan(1e7);
    // hardclock at 100 Hz wakes it; nothing polls.
    expect(calls.get(SCHEDOP.block)).toBeGreaterThanOrEqual(99);
    expect(calls.get(SCHEDOP.block)).toBeLessThanOrEqual(101);
    expect(calls.get(SCHEDOP.poll)).toBeUndefined();
    expect(vcpu.runstate).toBe('blocked');
    const info = h.sharedInfoOf(domid)!.vcpuInfo(0);
    expect(info.bytes[info.offset + VcpuInfo.evtchnUpcallMask]).toBe(0);
    // An event on another port (console input) still wakes it.
    expect(command(h, console, 'echo awake')).toContain('awake');
    expect(console.output).toContain('waiting for events with SCHEDOP_block when idle');
  });

  it('holds output the backend has no room for and delivers all of it, in order, as the backend catches up', async () => {
    const { host: h, console } = await booted('pvh');
    console.chunk = 100;
    const mark = console.output.length;
    console.type('dmesg\rdmesg\recho done\r');
    expect(runUntil(h, () => console.since(mark).includes('done\r\n# '), 2e9)).toBe(true);
    const out = console.since(mark);
    const log = console.output.slice(0, mark - 2);
    expect(out).toBe(`dmesg\r\n${log}# dmesg\r\n${log}# echo done\r\ndone\r\n# `);
    expect(out.length).toBeGreaterThan(2048);
  });
});
