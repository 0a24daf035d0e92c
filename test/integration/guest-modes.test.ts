/**
 * Issue 6's acceptance on the default machine: one guest per mode (PV, PVH, PVHVM, HVM), each booting the
 * same reference kernel, which finds out where it runs; the trace shows what each mode costs; the
 * toolstack's lifecycle actions work on each; hostile guests are refused while the others carry on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Consoles, GuestKernels, HvmPlatforms, Toolstack, Xenstore, type Toolstack as ToolstackApi } from '../../core/api/index.js';
import type { Consoles as ConsolesApi } from '../../core/api/console.js';
import { TraceKind } from '../../core/engine/index.js';
import type { Host } from '../../core/host/host.js';
import { DOMID_SELF, Hypercall, MmuUpdate, PAGE_SIZE, PTE_P, PTE_RW, PvStartInfo, VCPUOP, XenErrno, guestFrame, type MachineFrame } from '../../core/public/index.js';
import { guest, settle } from '../plugins/dom0/toolstack/harness.js';
import { runUntil } from '../plugins/guest/generic/helpers.js';
import { bootHost, loadDefinition } from './machine.js';

let host: Host;
let toolstack: ToolstackApi;
let consoles: ConsolesApi;

const domid = (name: string): number => toolstack.find(name)!.domid;
const log = (name: string): string => consoles.log(domid(name));

/** Types `line` into the guest's console and runs until `expect` shows up after it. */
function shell(name: string, line: string, expectText = '# '): string {
  const before = log(name).length;
  consoles.input(domid(name), `${line}\r`);
  const ok = runUntil(host, () => log(name).slice(before).includes(expectText), 2e9);
  const out = log(name).slice(before);
  if (!ok) throw new Error(`${name}: no "${expectText}" after "${line}": ${JSON.stringify(out.slice(-300))}`);
  return out;
}

beforeAll(async () => {
  ({ host } = await bootHost(await loadDefinition()));
  toolstack = host.plugins.resolveAll(Toolstack)[0]!;
  consoles = host.plugins.resolveAll(Consoles)[0]!;
  host.runFor(0.3e9);
}, 60_000);

afterAll(async () => {
  await host.shutdown();
});

describe('one guest per mode, one kernel', () => {
  it('each reaches its shell and its boot log names the mode and the hooks it chose', () => {
    const expected: [string, string, RegExp][] = [
      ['pv-guest', 'XEN: PV guest', /hooks: pmap = .*PV MMU/],
      ['pvh-guest', 'XEN: PVH guest', /hooks: clock = xentimer/],
      ['hvm-guest', 'XEN: PVHVM guest', /hooks: clock = xentimer[\s\S]*hooks: ap_start = native_start_ap/],
      ['hvm-plain', 'XEN: HVM guest', /hooks: clock = lapic/],
    ];
    for (const [name, mode, hooks] of expected) {
      expect(log(name), name).toContain(mode);
      expect(log(name), name).toMatch(hooks);
      expect(log(name), name).toMatch(/^# /m);
    }
    expect(log('hvm-guest')).toContain('xenpci0: <Xen Platform Device> on pci0');
    expect(log('hvm-plain')).not.toContain('xenpci0');
  });

  it('PVH takes no device-model exits; PVHVM and HVM do; PV has no emulated platform at all', () => {
    const exits = host.container.resolve(HvmPlatforms);
    expect(exits.has(domid('pv-guest'))).toBe(false);
    expect(exits.exits(domid('pvh-guest')).forwarded).toBe(0);
    expect(exits.exits(domid('hvm-guest')).forwarded).toBeGreaterThan(0);
    expect(exits.exits(domid('hvm-plain')).forwarded).toBeGreaterThan(0);
    expect(exits.exits(domid('hvm-plain')).wild).toBe(0);
  });

  it('an idle tick costs one PV timer hypercall in PV, PVH and PVHVM, and LAPIC exits in HVM', () => {
    const exits = host.container.resolve(HvmPlatforms);
    const names = ['pv-guest', 'pvh-guest', 'hvm-guest', 'hvm-plain'];
    const timers = new Map<number, number>();
    const stop = host.engine.trace.subscribe((r) => {
      if (r.kind !== TraceKind.Hypercall || r.a !== Hypercall.vcpu_op || r.b !== VCPUOP.set_singleshot_timer) return;
      timers.set(r.domid, (timers.get(r.domid) ?? 0) + 1);
      (armingCpus.get(r.domid) ?? armingCpus.set(r.domid, new Set()).get(r.domid)!).add(r.vcpu);
    });
    const armingCpus = new Map<number, Set<number>>();
    const before = new Map(names.filter((n) => exits.has(domid(n))).map((n) => [n, { ...exits.exits(domid(n)).byReason, forwarded: exits.exits(domid(n)).forwarded }]));
    const ticks = (name: string): number => Number(/kern\.ticks: (\d+)/.exec(shell(name, 'sysctl kern.ticks'))![1]);
    const ticks0 = new Map(names.map((n) => [n, ticks(n)]));
    host.runFor(0.1e9); // idle: 10 hardclock ticks at 100 Hz
    const ticked = new Map(names.map((n) => [n, ticks(n) - ticks0.get(n)!]));
    stop();
    for (const name of names) expect(ticked.get(name), name).toBeGreaterThanOrEqual(9);
    const delta = (name: string, reason: 'apic' | 'forwarded'): number => (reason === 'forwarded' ? exits.exits(domid(name)).forwarded : exits.exits(domid(name)).byReason[reason]) - before.get(name)![reason];
    // PV, PVH and PVHVM: one VCPUOP_set_singleshot_timer per tick on each online CPU (PVHVM's two come from the MADT).
    expect(armingCpus.get(domid('pv-guest'))?.size).toBe(2);
    expect(armingCpus.get(domid('hvm-guest'))?.size).toBe(2);
    for (const name of ['pv-guest', 'pvh-guest', 'hvm-guest']) {
      const cpus = armingCpus.get(domid(name))!.size;
      const sets = timers.get(domid(name)) ?? 0;
      expect(sets, name).toBeGreaterThanOrEqual(ticked.get(name)! * cpus - cpus);
      expect(sets, name).toBeLessThanOrEqual((ticked.get(name)! + 1) * cpus);
    }
    // PVH: no device model, and its events are upcalls, not vectors: no APIC exits either.
    expect(delta('pvh-guest', 'apic')).toBe(0);
    // PVHVM: the callback vector's EOI is its one exit per tick; plain HVM never makes the hypercall, it
    // reprograms the LAPIC timer (two register writes) and EOIs: several exits per tick.
    expect(timers.get(domid('hvm-plain')) ?? 0).toBe(0);
    const perTick = (name: string): number => delta(name, 'apic') / ticked.get(name)!;
    expect(perTick('hvm-guest') / armingCpus.get(domid('hvm-guest'))!.size).toBeLessThan(2); // per CPU: each has its own callback vector
    expect(perTick('hvm-plain')).toBeGreaterThanOrEqual(2.5);
  });
});

describe('hostile guests', () => {
  it("a PV guest's forged page-table updates and an HVM guest's wild MMIO are refused; every other domain carries on", () => {
    const victim = domid('pv-guest');
    const victimFrame = host.p2mOf(victim)!.mfnOf(guestFrame(100)) as MachineFrame;
    const victimL4 = Math.floor(host.domains.lookup(victim).vcpus[0]!.context.cr3 / PAGE_SIZE) as MachineFrame;
    const seen: { forged?: number; foreignTable?: number; entryAfter?: number; wildReads?: number[] } = {};
    host.container.resolve(GuestKernels).register({
      name: 'hostile',
      description: 'forges page-table updates (PV) or pokes MMIO nobody claims (HVM)',
      types: ['pv', 'hvm'],
      entry: (_d, type) =>
        function* (v) {
          const m = v.memory;
          if (type === 'hvm') {
            // HPET, a hole above RAM, the top of the 4 GiB space: nothing there is emulated.
            seen.wildReads = [];
            for (const addr of [0xfed0_0000, 0xc000_0000, 0xffff_f000]) {
              yield* v.mmioWrite(addr, 4, 0xdead_beef);
              seen.wildReads.push(yield* v.mmioRead(addr, 4));
            }
          } else {
            // Find its own L1 through start_info's P2M list (the M2P inverted), as a kernel could.
            const si = v.regs.rsi;
            const list = m.readU64(si + PvStartInfo.mfnList);
            const pages = m.readU64(si + PvStartInfo.nrPages);
            const m2p = new Map<number, number>();
            for (let pfn = 0; pfn < pages; pfn++) m2p.set(m.readU64(list + pfn * 8), pfn);
            const next = (mfn: number, index: number): number => Math.floor(m.readU64(m2p.get(mfn)! * PAGE_SIZE + index * 8) / PAGE_SIZE) % 2 ** 40;
            const l1 = next(next(next(Math.floor(v.regs.cr3 / PAGE_SIZE), 0), 0), 0);
            const req = 0x20_000; // pseudo-physical frame 32: plain RAM of its own
            const update = (ptr: number, val: number): number => {
              m.writeU64(req + MmuUpdate.ptr, ptr);
              m.writeU64(req + MmuUpdate.val, val);
              return v.hypercall(Hypercall.mmu_update, req, 1, 0, DOMID_SELF);
            };
            // Map the victim's frame writable into its own L1 (VA 90 × 4 KiB), then write into the victim's L4.
            seen.forged = update(l1 * PAGE_SIZE + 90 * 8, victimFrame * PAGE_SIZE + (PTE_P | PTE_RW));
            seen.foreignTable = update(victimL4 * PAGE_SIZE + 5 * 8, victimFrame * PAGE_SIZE + (PTE_P | PTE_RW));
            seen.entryAfter = Math.floor(m.readU64(m2p.get(l1)! * PAGE_SIZE + 90 * 8) / PAGE_SIZE) % 2 ** 40;
          }
          for (;;) yield v.sleepFor(1e9);
        },
    });
    const victimBytes = host.memory.frameBytes(victimFrame).slice();
    const victimL4Bytes = host.memory.frameBytes(victimL4).slice();
    const pv = settle(host, toolstack.create(guest('name = "hostile-pv"\ntype = "pv"\nkernel = "hostile"\nmemory = 16\n')));
    const hvm = settle(host, toolstack.create(guest('name = "hostile-hvm"\ntype = "hvm"\nkernel = "hostile"\nmemory = 16\n')));
    expect(pv.error).toBeUndefined();
    expect(hvm.error).toBeUndefined();
    expect(runUntil(host, () => seen.entryAfter !== undefined && seen.wildReads?.length === 3, 2e9)).toBe(true);

    expect(seen.forged).toBeLessThan(0);
    expect(seen.foreignTable).toBe(-XenErrno.EINVAL);
    expect(seen.entryAfter).not.toBe(victimFrame);
    expect(host.memory.frameBytes(victimFrame)).toEqual(victimBytes);
    expect(host.memory.frameBytes(victimL4)).toEqual(victimL4Bytes);
    // Unclaimed MMIO: writes dropped, reads all ones (Xen's null handler), counted, the guest not killed.
    expect(seen.wildReads).toEqual([0xffff_ffff, 0xffff_ffff, 0xffff_ffff]);
    const hostileHvm = domid('hostile-hvm');
    expect(host.container.resolve(HvmPlatforms).exits(hostileHvm).wild).toBeGreaterThanOrEqual(6);
    for (const name of ['hostile-pv', 'hostile-hvm']) expect(host.domains.get(domid(name))?.state, name).not.toBe('shutdown');

    for (const name of ['pv-guest', 'pvh-guest', 'hvm-guest', 'hvm-plain']) expect(shell(name, 'echo still here'), name).toMatch(/^still here\r?$/m);
    for (const name of ['hostile-pv', 'hostile-hvm']) settle(host, toolstack.destroy(domid(name)));
  });
});

describe('lifecycle on each mode', () => {
  it('mem-set balloons the PV, PVH and PVHVM guests down and up again; the HVM guest without PV drivers has no balloon', () => {
    // The guests' `memory =` in config/domains, KiB: what xl mem-set may go back up to.
    const memory: [string, number][] = [['pv-guest', 256 * 1024], ['pvh-guest', 512 * 1024], ['hvm-guest', 1024 * 1024]];
    for (const [name, kib] of memory) {
      const d = host.domains.lookup(domid(name));
      const before = d.totPages;
      expect(settle(host, toolstack.memSet(d.domid, kib - 16 * 1024)).error, name).toBeUndefined();
      // The guest balloons down to the target's pages; Xen's count also has its special pages (up to 73 on HVM).
      expect(runUntil(host, () => d.totPages <= (kib - 16 * 1024) / 4 + 80, 2e9), name).toBe(true);
      expect(before - d.totPages, name).toBeGreaterThan(3900);
      expect(log(name)).toMatch(/balloon0: target \d+ KiB: gave \d+ pages to Xen/);
      expect(settle(host, toolstack.memSet(d.domid, kib)).error, name).toBeUndefined();
      expect(runUntil(host, () => d.totPages >= before - 80, 2e9), name).toBe(true);
    }
    const plain = host.domains.lookup(domid('hvm-plain'));
    const pages = plain.totPages;
    expect(settle(host, toolstack.memSet(plain.domid, pages * 4 - 16 * 1024)).error).toBeUndefined();
    host.runFor(0.2e9);
    expect(plain.totPages).toBe(pages);
  });

  it('reboot restarts the PV and PVH guests to their shells; the HVM guest without PV drivers needs -F', () => {
    expect(settle(host, toolstack.shutdown(domid('hvm-plain'), 'reboot')).error?.message).toMatch(/PV control interface not available/);
    for (const name of ['pv-guest', 'pvh-guest']) {
      const old = domid(name);
      const job = settle(host, toolstack.shutdown(old, 'reboot'));
      expect(job.error, name).toBeUndefined();
      expect(runUntil(host, () => toolstack.find(name) !== undefined && domid(name) !== old && /^# /m.test(log(name)), 3e9), name).toBe(true);
      expect(shell(name, 'uptime', 'up ')).toMatch(/up \d/);
    }
  });

  it('a crash honours on_crash: preserve keeps the PV guest, crashed', () => {
    const id = domid('pv-guest');
    host.plugins.resolveAll(Xenstore)[0]!.dom0.write(`/local/domain/${id}/control/shutdown`, 'crash');
    expect(runUntil(host, () => host.domains.get(id)?.shutdownReason === 'crash', 2e9)).toBe(true);
    host.runFor(0.1e9);
    expect(host.domains.get(id)?.state).toBe('shutdown');
    settle(host, toolstack.destroy(id));
    expect(host.domains.get(id)).toBeUndefined();
  });

  it('shutdown powers off the PVH guest, shutdown -F the HVM one through ACPI (on_poweroff = destroy); destroy removes the PVHVM one', () => {
    const pvh = domid('pvh-guest');
    expect(settle(host, toolstack.shutdown(pvh, 'poweroff')).error).toBeUndefined();
    expect(runUntil(host, () => host.domains.get(pvh) === undefined, 2e9)).toBe(true);
    const hvm = domid('hvm-plain');
    expect(settle(host, toolstack.shutdown(hvm, 'poweroff', { force: true })).error).toBeUndefined();
    expect(runUntil(host, () => host.domains.get(hvm) === undefined, 2e9)).toBe(true);
    const pvhvm = domid('hvm-guest');
    settle(host, toolstack.destroy(pvhvm));
    expect(host.domains.get(pvhvm)).toBeUndefined();
    expect(host.domains.list().map((d) => d.name)).toEqual(['Domain-0']);
  });
});
