/** The reference kernel's drivers, SMP, locks and shell, booted by the toolstack (PVH and PV). */
import { afterEach, describe, expect, it } from 'vitest';
import { CpuMask } from '../../../../core/api/index.js';
import { XENCONS_OUT_SIZE } from '../../../../core/public/index.js';
import type { Host } from '../../../../core/host/host.js';
import { ConsoleBackend, bootHost, record, runUntil, watchShutdowns, type GuestSpec } from './helpers.js';

let host: Host | undefined;
afterEach(async () => {
  await host?.shutdown();
  host = undefined;
});

async function boot(guests: GuestSpec[]) {
  ({ host } = await bootHost(guests));
  const h = host;
  const shutdowns = watchShutdowns(h);
  expect(runUntil(h, () => guests.every((g) => h.toolstack?.list().some((d) => d.name === g.name)), 1e9)).toBe(true);
  const consoles = guests.map((g) => ConsoleBackend.attach(h, g.name));
  for (const c of consoles) expect(runUntil(h, () => c.output.endsWith('# '), 1e9)).toBe(true);
  return { h, consoles, shutdowns };
}

function command(h: Host, c: ConsoleBackend, line: string, limitNs = 1e9): string {
  const mark = c.output.length;
  c.type(`${line}\r`);
  expect(runUntil(h, () => c.since(mark).endsWith('\r\n# '), limitNs)).toBe(true);
  return c.since(mark).replace(/\r\n/g, '\n');
}

function sysctl(h: Host, c: ConsoleBackend, name: string): string {
  return /: (.*)\n/.exec(command(h, c, `sysctl ${name}`))?.[1] ?? '';
}

describe.each(['pvh', 'pv'] as const)('%s guest', (type) => {
  it('GENERIC: prints its hooks, answers sysctl, devinfo, ps, and its tree has the xentimer, evtchn and balloon', async () => {
    const { h, consoles: [c] } = await boot([{ name: 'g', type }]);
    expect(c!.output).toContain('hooks: ap_start = xen_start_ap (VCPUOP_initialise, VCPUOP_up)');
    expect(c!.output).toContain('hooks: clock = xentimer');
    expect(sysctl(h, c!, 'kern.ostype')).toBe('xenoserver');
    expect(sysctl(h, c!, 'kern.vm_guest')).toBe('xen');
    expect(sysctl(h, c!, 'kern.hostname')).toBe('g');
    expect(sysctl(h, c!, 'kern.hz')).toBe('100');
    expect(sysctl(h, c!, 'hw.physmem')).toBe(String(16 * 2 ** 20));
    expect(sysctl(h, c!, 'machdep.hooks.pmap')).toMatch(type === 'pv' ? /PV MMU/ : /HAP/);
    expect(command(h, c!, 'sysctl kern.ostype=x')).toContain("sysctl: oid 'kern.ostype' is read only");
    expect(command(h, c!, 'sysctl no.such')).toContain("sysctl: unknown oid 'no.such'");
    const tree = command(h, c!, 'devinfo');
    expect(tree).toContain('nexus0\n  xenpv0\n    xc0\n    xentimer0\n    evtchn0\n    xenstore0\n      xenbusb_front0\n      balloon0\n      xctrl0\n');
    expect(command(h, c!, 'devinfo -v')).toContain('    xenstore0 <XenStore>\n');
    const ps = command(h, c!, 'ps');
    expect(ps).toMatch(/\[idle: cpu0\]/);
    expect(ps).toMatch(/\[intr: xentimer:cpu0\]/);
  });

  it('MINIMAL lacks balloon, evtchn and SMP: no attach, no sysctl, no command; it ignores mem-set while GENERIC follows it', async () => {
    const { h, consoles: [small, big] } = await boot([
      { name: 'small', type, kernel: 'minimal', vcpus: 2 },
      { name: 'big', type, kernel: 'generic' },
    ]);
    expect(command(h, small!, 'devinfo')).not.toContain('balloon0');
    expect(command(h, small!, 'sysctl hw.balloon')).toContain("unknown oid 'hw.balloon'");
    expect(command(h, small!, 'evtchn list')).toContain('evtchn: not found');
    expect(sysctl(h, small!, 'hw.ncpu')).toBe('1');
    const ts = h.toolstack!;
    const dom = (name: string) => h.domains.lookup(record(h, name).domid);
    const before = { small: dom('small').totPages, big: dom('big').totPages };
    for (const name of ['small', 'big']) ts.memSet(record(h, name).domid, 8192);
    expect(runUntil(h, () => dom('big').totPages === before.big - 2048, 1e9)).toBe(true);
    runUntil(h, () => false, 1e8);
    expect(dom('small').totPages).toBe(before.small);
    expect(dom('big').totPages).toBe(before.big - 2048);
    expect(sysctl(h, big!, 'hw.balloon.current')).toBe('8192');
    expect(sysctl(h, big!, 'hw.balloon.low_mem')).toBe('8192');
    ts.memSet(record(h, 'big').domid, 16384);
    expect(runUntil(h, () => dom('big').totPages === before.big, 1e9)).toBe(true);
    expect(sysctl(h, big!, 'hw.balloon.low_mem')).toBe('0');
    expect(command(h, big!, 'uptime')).toMatch(/up \d/);
  });

  it('console output the ring had no room for goes out on the retry timer when the backend takes it without notifying', async () => {
    const { h, consoles: [c] } = await boot([{ name: 'g', type }]);
    const log = command(h, c!, 'dmesg');
    // Three commands' output while the backend is away: more than the 2 KiB ring holds, the rest queued in the kernel.
    c!.reading = false;
    const mark = c!.output.length;
    for (let i = 0; i < 3; i++) {
      c!.type('dmesg\r');
      runUntil(h, () => false, 20e6);
    }
    expect(3 * log.length).toBeGreaterThan(2 * XENCONS_OUT_SIZE);
    // The backend comes back but never notifies: only the handler's retry (10 ms after its last try) finds the room.
    c!.reading = true;
    c!.notifying = false;
    const start = h.engine.now;
    c!.drain();
    expect(runUntil(h, () => c!.since(mark).replace(/\r\n/g, '\n') === log.repeat(3), 1e9)).toBe(true);
    expect(h.engine.now - start).toBeGreaterThanOrEqual(10e6);
  });

  it('while a shell command sleeps inside the console handler, the other handlers keep being served: ticks, a watch, the balloon', async () => {
    const { h, consoles: [c] } = await boot([{ name: 'g', type }]);
    const d = h.domains.lookup(record(h, 'g').domid);
    const ticks = Number(sysctl(h, c!, 'kern.ticks'));
    const before = d.totPages;
    const mark = c!.output.length;
    c!.type('sleep 1\r');
    runUntil(h, () => false, 100e6);
    // Mid-sleep: the target watch fires, the xenbus and balloon handlers run in a round nested in the console's.
    h.toolstack!.memSet(record(h, 'g').domid, 8192);
    expect(runUntil(h, () => d.totPages === before - 2048, 500e6)).toBe(true);
    expect(c!.since(mark)).not.toContain('# ');
    expect(runUntil(h, () => c!.since(mark).endsWith('\r\n# '), 1e9)).toBe(true);
    expect(Number(sysctl(h, c!, 'kern.ticks')) - ticks).toBeGreaterThanOrEqual(100);
  });

  it('hw.balloon.auto=1: once a second the balloon gives Xen the free memory past its reserve, with no event to wake it', async () => {
    const { h, consoles: [c] } = await boot([{ name: 'g', type }]);
    const d = h.domains.lookup(record(h, 'g').domid);
    const before = d.totPages;
    command(h, c!, 'sysctl hw.balloon.auto=1');
    expect(runUntil(h, () => d.totPages < before - 1024, 2e9)).toBe(true);
    expect(Number(sysctl(h, c!, 'hw.balloon.low_mem'))).toBeGreaterThan(4096);
    const held = d.totPages;
    runUntil(h, () => false, 1.5e9);
    expect(d.totPages).toBe(held);
  });

  it('SMP: brings its APs up with VCPUOP_initialise + VCPUOP_up; each runs its own 100 Hz xentimer', async () => {
    const { h, consoles: [c] } = await boot([{ name: 'g', type, vcpus: 3 }]);
    expect(c!.output).toContain('SMP: AP CPU #1 Launched!');
    expect(c!.output).toContain('SMP: AP CPU #2 Launched!');
    const d = h.domains.lookup(record(h, 'g').domid);
    expect(d.vcpus.map((v) => v.isUp)).toEqual([true, true, true]);
    expect(d.vcpus.every((v) => v.runstate !== 'offline')).toBe(true);
    expect(sysctl(h, c!, 'kern.smp.cpus')).toBe('3');
    const t0 = Number(sysctl(h, c!, 'kern.ticks'));
    runUntil(h, () => false, 1e9);
    const t1 = Number(sysctl(h, c!, 'kern.ticks'));
    expect(t1 - t0).toBeGreaterThanOrEqual(99);
    expect(t1 - t0).toBeLessThanOrEqual(102);
    const vm = command(h, c!, 'vmstat -i');
    for (const cpu of [0, 1, 2]) expect(Number(new RegExp(`cpu${cpu}:timer \\(evtchn \\d+, VIRQ_TIMER\\) +(\\d+)`).exec(vm)?.[1])).toBeGreaterThanOrEqual(99);
  });
});

describe('generic kernel (PVH)', () => {
  it('evtchn device: one guest offers an unbound port, the other binds and notifies, the first reads it', async () => {
    const { h, consoles: [a, b] } = await boot([
      { name: 'a', type: 'pvh' },
      { name: 'b', type: 'pvh' },
    ]);
    const [da, db] = [record(h, 'a').domid, record(h, 'b').domid];
    const pa = Number(/port (\d+)/.exec(command(h, a!, `evtchn unbound ${db}`))?.[1]);
    const pb = Number(/port (\d+)/.exec(command(h, b!, `evtchn bind ${da} ${pa}`))?.[1]);
    expect(pa).toBeGreaterThan(0);
    expect(pb).toBeGreaterThan(0);
    expect(command(h, a!, 'evtchn read 5')).toContain('evtchn: timed out');
    command(h, b!, `evtchn notify ${pb}`);
    expect(command(h, a!, 'evtchn read 100')).toContain(`fired: ${pa}\n`);
    expect(command(h, a!, `evtchn notify ${pa + 100}`)).toContain('is not bound to this evtchn device');
    command(h, a!, `evtchn unbind ${pa}`);
    expect(command(h, a!, 'evtchn list')).toContain('bound: -');
  });

  it('mutexbench: with both vCPUs on one pCPU, adaptive mutexes spin through the preempted holder\'s slice; NO_ADAPTIVE_MUTEXES sleeps instead', async () => {
    const results: Record<string, { spin: number; sleeps: number; elapsed: number }> = {};
    for (const kernel of ['generic', 'xenhvm']) {
      const { h, consoles: [c] } = await boot([{ name: 'g', type: 'pvh', vcpus: 2, kernel }]);
      for (const v of h.domains.lookup(record(h, 'g').domid).vcpus) v.setHardAffinity(CpuMask.of(1));
      const out = command(h, c!, 'mutexbench 2 30000', 5e9);
      expect(out).toContain('acquisitions 60000');
      const n = (k: string) => Number(new RegExp(`${k} (\\d+)`).exec(out)?.[1]);
      results[kernel] = { spin: n('spin cycles'), sleeps: n('sleeps'), elapsed: n('elapsed') };
      await h.shutdown();
      host = undefined;
    }
    expect(results.generic!.spin).toBeGreaterThan(10_000_000);
    expect(results.xenhvm!.spin).toBe(0);
    expect(results.xenhvm!.sleeps).toBeGreaterThan(0);
    expect(results.xenhvm!.elapsed).toBeLessThan(results.generic!.elapsed);
  });

  it('shutdown -r now reboots, halt powers off; bad usage is explained', async () => {
    const { h, consoles: [c], shutdowns } = await boot([{ name: 'g', type: 'pvh' }]);
    expect(command(h, c!, 'shutdown -x')).toContain('usage: shutdown -p | -r | -h now');
    c!.type('shutdown -r now\r');
    expect(runUntil(h, () => shutdowns.length > 0, 1e9)).toBe(true);
    expect(shutdowns[0]!.reason).toBe('reboot');
  });
});
