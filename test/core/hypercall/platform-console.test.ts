import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { HypervisorConsoleImpl, DEFAULT_CONSOLE_RING_BYTES } from '../../../core/hypercall/console-io.js';
import { CONSOLEIO, Hypercall, XenErrno } from '../../../core/public/index.js';
import { bootPlatformHost, call, DOM0, HVM, mem, platformOf, PV, PVH } from './platform-fixture.js';

let host: Host;
beforeAll(async () => {
  host = await bootPlatformHost();
});
afterAll(async () => {
  await host.shutdown();
});

const BUF = 0x6000;
function write(domid: number, text: string | Uint8Array): number {
  const bytes = typeof text === 'string' ? Uint8Array.from(text, (c) => c.charCodeAt(0)) : text;
  mem(host, domid).write(BUF, bytes);
  return call(host, domid, Hypercall.console_io, CONSOLEIO.write, bytes.length, BUF);
}
const console = () => platformOf(host).hypervisorConsole();

describe('CONSOLEIO_write', () => {
  it('assembles partial lines per domain, prefixes guest lines "(dN) ", and writes Dom0 unprefixed', () => {
    console().clear();
    expect(write(HVM, 'hello ')).toBe(0);
    expect(write(PVH, 'foo\nba')).toBe(0);
    expect(write(DOM0, 'dom0 ')).toBe(0);
    expect(write(HVM, 'world\n')).toBe(0);
    expect(write(DOM0, 'says hi\n')).toBe(0);
    expect(write(PVH, 'r\n')).toBe(0);
    expect(console().lines()).toEqual(['(d2) foo', '(d1) hello world', 'dom0 says hi', '(d2) bar']);
    expect(console().text()).toBe('(d2) foo\n(d1) hello world\ndom0 says hi\n(d2) bar\n');
  });

  it('strips a guest’s non-printable characters (tabs stay) and cuts guest lines at 199 characters', () => {
    console().clear();
    write(PV, Uint8Array.of(0x61, 0x07, 0x62, 0x09, 0x63, 0x0d, 0x1b, 0xff, 0x0a));
    write(PV, `${'x'.repeat(250)}\n`);
    expect(console().lines()).toEqual(['(d3) ab\tc', `(d3) ${'x'.repeat(199)}`, `(d3) ${'x'.repeat(51)}`]);
  });

  it('a count of 0 writes nothing; an unreadable buffer is EFAULT', () => {
    console().clear();
    expect(call(host, HVM, Hypercall.console_io, CONSOLEIO.write, 0, 0)).toBe(0);
    expect(call(host, HVM, Hypercall.console_io, CONSOLEIO.write, 16, 64 * 2 ** 20)).toBe(-XenErrno.EFAULT);
    // Xen copies and prints chunk by chunk: what precedes the fault is written (here zeros, which a guest loses).
    expect(call(host, HVM, Hypercall.console_io, CONSOLEIO.write, 0xffff_ffff, 16 * 2 ** 20 - 300)).toBe(-XenErrno.EFAULT);
    expect(console().lines()).toEqual([]);
  });
});

describe('CONSOLEIO_read and other commands', () => {
  it('is privileged: a guest gets EPERM, also for unknown commands; Dom0 gets ENOSYS for those', () => {
    expect(call(host, HVM, Hypercall.console_io, CONSOLEIO.read, 16, BUF)).toBe(-XenErrno.EPERM);
    expect(call(host, HVM, Hypercall.console_io, 7, 16, BUF)).toBe(-XenErrno.EPERM);
    expect(call(host, DOM0, Hypercall.console_io, 7, 16, BUF)).toBe(-XenErrno.ENOSYS);
  });

  it('returns serial input to Dom0, as Xen does, up to count; E2BIG past INT_MAX', () => {
    expect(call(host, DOM0, Hypercall.console_io, CONSOLEIO.read, 16, BUF)).toBe(0);
    console().input('ls -l\n');
    expect(call(host, DOM0, Hypercall.console_io, CONSOLEIO.read, 4, BUF)).toBe(4);
    expect(String.fromCharCode(...mem(host, DOM0).read(BUF, 4))).toBe('ls -');
    expect(call(host, DOM0, Hypercall.console_io, CONSOLEIO.read, 0x8000_0000, BUF)).toBe(-XenErrno.E2BIG);
    expect(call(host, DOM0, Hypercall.console_io, CONSOLEIO.read, 16, 2 ** 40)).toBe(-XenErrno.EFAULT);
    expect(call(host, DOM0, Hypercall.console_io, CONSOLEIO.read, 16, BUF)).toBe(2);
    expect(String.fromCharCode(...mem(host, DOM0).read(BUF, 2))).toBe('l\n');
  });
});

describe('the console ring', () => {
  it('defaults to Xen’s 16 KiB and keeps the newest lines within it', () => {
    const ring = new HypervisorConsoleImpl();
    expect(ring.capacity).toBe(DEFAULT_CONSOLE_RING_BYTES);
    for (let i = 0; i < 1000; i++) ring.write(4, Uint8Array.from(`line ${String(i).padStart(4, '0')} ${'.'.repeat(14)}\n`, (c) => c.charCodeAt(0)));
    const lines = ring.lines();
    expect(ring.text().length).toBeLessThanOrEqual(16 * 1024);
    expect(ring.text().length).toBeGreaterThan(16 * 1024 - 40);
    expect(lines.at(-1)).toBe(`(d4) line 0999 ${'.'.repeat(14)}`);
    expect(lines[0]).toBe(`(d4) line ${String(1000 - lines.length).padStart(4, '0')} ${'.'.repeat(14)}`);
  });

  it('drops whole lines oldest first; prints the hypervisor’s own lines with "(XEN) "; clear keeps partial lines', () => {
    const ring = new HypervisorConsoleImpl(24);
    ring.printk('a\nbb');
    ring.write(0, Uint8Array.from('0123456789\n', (c) => c.charCodeAt(0)));
    expect(ring.lines()).toEqual(['(XEN) bb', '0123456789']);
    ring.write(0, Uint8Array.of(0x7a));
    ring.clear();
    ring.write(0, Uint8Array.of(0x0a));
    expect(ring.lines()).toEqual(['z']);
    ring.write(0, new Uint8Array(40).fill(0x41));
    ring.write(0, Uint8Array.of(0x0a));
    expect(ring.text().length).toBeLessThanOrEqual(24);
  });

  it('forgets a destroyed domain’s unfinished line', async () => {
    const d = host.createGuest({ name: 'short-lived', type: 'pvh', memoryBytes: 16 * 2 ** 20, vcpus: 1, cpus: { all: 'all', perVcpu: [] } } as never);
    write(d.domid, 'half a line');
    host.domains.destroy(d.domid);
    console().clear();
    write(HVM, '\n');
    expect(console().lines()).toEqual(['(d1) ']);
    expect(platformOf(host).handleOf(d.domid)).toBeUndefined();
  });
});
