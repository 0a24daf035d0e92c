/**
 * Power control of HVM guests without PV drivers, end to end: the toolstack's pvcontrol check and xl's
 * -F fallback, the acpi-pm device model, and the reference kernel's acpi0 driver (power button, S5
 * through PM1a_CNT, reset through 0xCF9). A PVHVM guest still shuts down through xenstore.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Consoles, DeviceModelHost, Toolstack, Xenstore, type ShutdownHandled, type XenstoreClient } from '../../../../core/api/index.js';
import { bootToolstackHost, guest, settle, type ToolstackHost } from '../../dom0/toolstack/harness.js';

const PLUGINS = ['xenconsoled', 'generic-kernel', 'device-model', 'uart16550', 'pit8254', 'rtc146818', 'xen-platform', 'acpi-pm'];
const cfg = (name: string, pci: 0 | 1, extra = ''): string => `name="${name}"\ntype="hvm"\nkernel="generic"\nmemory=128\nxen_platform_pci=${pci}\nserial="pty"\n${extra}`;

describe('ACPI power control of HVM guests', () => {
  let t: ToolstackHost;
  let ts: Toolstack;
  let cons: Consoles;
  const handled: ShutdownHandled[] = [];
  let xs: () => XenstoreClient;

  beforeAll(async () => {
    t = await bootToolstackHost({ modes: ['pv', 'pvh', 'hvm', 'pvhvm'], plugins: PLUGINS, memoryMiB: 4096 });
    ts = t.host.plugins.resolveAll(Toolstack)[0]!;
    cons = t.host.plugins.resolveAll(Consoles)[0]!;
    ts.events.on('shutdown', (h) => handled.push(h));
    xs = () => t.host.plugins.resolveAll(Xenstore)[0]!.dom0;
  }, 60_000);
  afterAll(async () => t?.cleanup());

  /** Creates a plain HVM guest and runs until its shell prompt is up. */
  function boot(name: string, extra = ''): number {
    const job = settle(t.host, ts.create(guest(cfg(name, 0, extra), `/tmp/${name}.cfg`)));
    if (job.error) throw job.error;
    const domid = job.result!.domid;
    runUntil(() => cons.log(domid).includes('acpi0:') && /# $/.test(cons.log(domid)), `${name} to boot`);
    return domid;
  }

  function runUntil(cond: () => boolean, what: string, limitNs = 5e9): void {
    const end = t.host.engine.now + limitNs;
    while (!cond()) {
      if (t.host.engine.now >= end) throw new Error(`timed out waiting for ${what}`);
      t.host.runFor(1e6);
    }
  }

  /** Runs until the toolstack handled `domid`'s shutdown; returns what it did. */
  function handledOf(domid: number): ShutdownHandled {
    runUntil(() => handled.some((h) => h.domid === domid), `dom${domid} to shut down`);
    return handled.find((h) => h.domid === domid)!;
  }

  const logSince = (from: number): string => t.logs.lines().slice(from).join('\n');

  it('refuses shutdown and reboot of a plain HVM guest without -F, with xl\'s message, and the guest keeps running', () => {
    const domid = boot('plain');
    const off = settle(t.host, ts.shutdown(domid, 'poweroff'));
    expect(off.error?.message).toContain('PV control interface not available: external graceful shutdown not possible. Use "-F" to fallback to ACPI power event.');
    const re = settle(t.host, ts.shutdown(domid, 'reboot'));
    expect(re.error?.message).toContain('PV control interface not available: external graceful reboot not possible. Use "-F" to fallback to ACPI reset event.');
    const halt = settle(t.host, ts.shutdown(domid, 'halt', { force: true }));
    expect(halt.error?.message).toMatch(/PV control interface not available: cannot halt it/);
    t.host.runFor(5e8);
    expect(t.host.domains.get(domid)?.state).not.toBe('shutdown');
    expect(handled.some((h) => h.domid === domid)).toBe(false);
    expect(cons.log(domid)).not.toContain('power button');
    settle(t.host, ts.destroy(domid));
  });

  it('shutdown -F presses the power button; the kernel powers off through S5 and on_poweroff is honoured', () => {
    const domid = boot('button', 'on_poweroff="preserve"\n');
    const from = t.logs.records.length;
    const job = settle(t.host, ts.shutdown(domid, 'poweroff', { force: true }));
    expect(job.error).toBeUndefined();
    const h = handledOf(domid);
    expect(h).toMatchObject({ reason: 'poweroff', action: 'preserve' });
    const d = t.host.domains.get(domid)!;
    expect(d.state).toBe('shutdown');
    expect(d.shutdownReason).toBe('poweroff');
    expect(cons.log(domid)).toMatch(/acpi0: power button pressed, shutting down[\s\S]*Powering off\.\.\./);
    const log = logSince(from);
    expect(log).toContain('sending ACPI power button event');
    expect(log).toContain('acpi-pm: power button pressed');
    expect(log).toContain('acpi-pm: guest entered S5 (soft off)');
    settle(t.host, ts.destroy(domid));
  });

  it('reboot -F resets the guest: the toolstack restarts it and it boots again', () => {
    const domid = boot('reset');
    const job = settle(t.host, ts.shutdown(domid, 'reboot', { force: true }));
    expect(job.error).toBeUndefined();
    const h = handledOf(domid);
    expect(h).toMatchObject({ reason: 'reboot', action: 'restart' });
    expect(h.newDomid).toBeGreaterThan(domid);
    runUntil(() => cons.log(h.newDomid!).includes('acpi0: Power Button (fixed)'), 'the restarted guest to boot');
    settle(t.host, ts.destroy(h.newDomid!));
  });

  it('the shell\'s shutdown -p now powers off through PM1a_CNT, and reboot resets through 0xCF9', () => {
    const off = boot('shell-off', 'on_poweroff="preserve"\n');
    let from = t.logs.records.length;
    cons.input(off, 'shutdown -p now\n');
    expect(handledOf(off)).toMatchObject({ reason: 'poweroff', action: 'preserve' });
    expect(logSince(from)).toContain('acpi-pm: guest entered S5 (soft off)');
    expect(cons.log(off)).toContain('Powering off...');
    settle(t.host, ts.destroy(off));

    const re = boot('shell-re');
    from = t.logs.records.length;
    cons.input(re, 'reboot\n');
    const h = handledOf(re);
    expect(h).toMatchObject({ reason: 'reboot', action: 'restart' });
    expect(logSince(from)).toContain('acpi-pm: reset through 0xcf9');
    runUntil(() => cons.log(h.newDomid!).includes('acpi0:'), 'the rebooted guest');
    settle(t.host, ts.destroy(h.newDomid!));
  });

  it('a PVHVM guest (callback set up) still gets control/shutdown through xenstore, -F or not', () => {
    const job = settle(t.host, ts.create(guest(cfg('pvhvm', 1), '/tmp/pvhvm.cfg')));
    const domid = job.result!.domid;
    runUntil(() => cons.log(domid).includes('HVM_PARAM_CALLBACK_IRQ'), 'the PVHVM kernel to register its callback');
    expect(cons.log(domid)).toContain('acpi0: Power Button (fixed)');
    expect(cons.log(domid)).not.toContain('power-off through S5');
    const from = t.logs.records.length;
    const node = `/local/domain/${domid}/control/shutdown`;
    const seen: (string | undefined)[] = [];
    const unwatch = xs().watch(node, () => seen.push(xs().read(node)));
    ts.shutdown(domid, 'poweroff', { force: true });
    t.host.runFor(1e8);
    unwatch();
    expect(seen).toContain('poweroff');
    const log = logSince(from);
    expect(log).not.toContain('sending ACPI');
    expect(log).not.toContain('power button');
    settle(t.host, ts.destroy(domid));
  });

  it('the device-model host refuses a trigger for a guest with no device model', () => {
    const dm = t.host.plugins.resolveAll(DeviceModelHost)[0]!;
    expect(() => dm.trigger(999, 'power')).toThrow(/dom999 has no running device model/);
  });
});
