import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Toolstack, Xenstore, type Toolstack as ToolstackApi, type VcpuApi, type VcpuCoroutine, type Xenstore as XenstoreApi } from '../../../core/api/index.js';
import { E820, HVM_INFO_PADDR, HVM_PARAM, HvmInfoTable, guestPhysAddr } from '../../../core/public/index.js';
import { BiosSmap, HVM_BOOT_METADATA_ADDR, HVM_BOOT_METADATA_MAGIC, HvmBootMetadata } from '../../../core/public/index.js';
import { bootToolstackHost, guest, settle, type ToolstackHost } from '../dom0/toolstack/harness.js';

/** What the probe kernel saw at its HVM entry. */
interface Entry {
  domid: number;
  rdi: number;
  cr0: number;
  magic: number;
  smap: { base: number; length: number; type: number }[];
  cmdline: string;
  /** BAR0 and BAR1 of every bus-0 device, by vendor:device. */
  bars: Map<string, [number, number]>;
}

const entries: Entry[] = [];

/** Reads a config dword the way the kernel's own PCI code would (mechanism #1). */
function* config(v: VcpuApi, device: number, reg: number): Generator<never, number, unknown> {
  yield* v.outPort(0xcf8, 4, (0x8000_0000 | (device << 11) | reg) >>> 0) as Generator<never, void, unknown>;
  return ((yield* v.inPort(0xcfc, 4) as Generator<never, number, unknown>) >>> 0);
}

/** A kernel that records the firmware's hand-off, then idles. */
const PROBE = {
  name: 'probe',
  description: 'records its HVM entry state',
  types: ['hvm' as const],
  entry: () =>
    function* probe(v: VcpuApi): VcpuCoroutine {
      const m = v.memory;
      const rdi = v.regs.rdi;
      const smapAt = rdi + m.readU32(rdi + HvmBootMetadata.smapOffset);
      const smap = Array.from({ length: m.readU32(rdi + HvmBootMetadata.smapEntries) }, (_, i) => ({
        base: m.readU64(smapAt + i * BiosSmap.size + BiosSmap.base),
        length: m.readU64(smapAt + i * BiosSmap.size + BiosSmap.length),
        type: m.readU32(smapAt + i * BiosSmap.size + BiosSmap.type),
      }));
      const cmdline = Buffer.from(m.read(rdi + m.readU32(rdi + HvmBootMetadata.cmdlineOffset), m.readU32(rdi + HvmBootMetadata.cmdlineLength))).toString();
      const bars = new Map<string, [number, number]>();
      for (let device = 0; device < 32; device++) {
        const id = yield* config(v, device, 0);
        if ((id & 0xffff) === 0xffff) continue;
        bars.set(`${(id & 0xffff).toString(16)}:${(id >>> 16).toString(16)}`, [yield* config(v, device, 0x10), yield* config(v, device, 0x14)]);
      }
      entries.push({ domid: v.domid, rdi, cr0: v.regs.cr0, magic: m.readU32(rdi), smap, cmdline, bars });
      for (;;) yield v.block();
    },
};

let t: ToolstackHost;
let toolstack: ToolstackApi;
let xs: XenstoreApi;

beforeAll(async () => {
  t = await bootToolstackHost({ modes: ['pv', 'pvh', 'hvm', 'pvhvm'], plugins: ['device-model', 'uart16550', 'pit8254', 'rtc146818', 'xen-platform'], memoryMiB: 3072 });
  t.host.kernels.register(PROBE);
  toolstack = t.host.plugins.resolveAll(Toolstack)[0]!;
  xs = t.host.plugins.resolveAll(Xenstore)[0]!;
});
afterAll(async () => t.cleanup());

const HVM = (name: string, platform: 0 | 1, memory = 64): string =>
  `name = "${name}"\ntype = "hvm"\nkernel = "probe"\nmemory = ${memory}\nvcpus = 2\ncmdline = "boot_verbose"\nxen_platform_pci = ${platform}\n`;

describe('the hvm and pvhvm guest modes', () => {
  it('choose the mode from xen_platform_pci: 1 (the default) is PVHVM, 0 plain HVM', () => {
    const pvhvm = settle(t.host, toolstack.create(guest(HVM('pvhvm1', 1))));
    expect(pvhvm.error).toBeUndefined();
    expect(t.host.domains.get(pvhvm.result!.domid)!.mode).toBe('pvhvm');
    const plain = settle(t.host, toolstack.create(guest(HVM('hvm1', 0))));
    expect(plain.error).toBeUndefined();
    expect(t.host.domains.get(plain.result!.domid)!.mode).toBe('hvm');
    const byDefault = settle(t.host, toolstack.create(guest('name = "dflt"\ntype = "hvm"\nkernel = "probe"\nmemory = 8\n')));
    expect(t.host.domains.get(byDefault.result!.domid)!.mode).toBe('pvhvm');
    for (const job of [pvhvm, plain, byDefault]) settle(t.host, toolstack.destroy(job.result!.domid));
  });

  it('lays out memory around the VGA hole, populates the special pages and sets their HVM params', () => {
    const rec = settle(t.host, toolstack.create(guest(HVM('layout', 0, 32)))).result!;
    const d = t.host.domains.get(rec.domid)!;
    const p2m = t.host.p2mOf(rec.domid)!;
    const populated = (gfn: number): boolean => p2m.mfnOf(gfn as never) >= 0;
    expect([0x9f, 0xa0, 0xbf, 0xc0, 32 * 256 - 1, 32 * 256].map(populated)).toEqual([true, false, false, true, true, false]);
    for (let i = 0; i < 8; i++) expect(populated(0xfeff8 + i)).toBe(true);
    expect(d.totPages).toBe(32 * 256 - 32 + 8);
    const params = d.hvmParams;
    expect(params.get(HVM_PARAM.STORE_PFN)).toBe(0xfeffcn);
    expect(params.get(HVM_PARAM.CONSOLE_PFN)).toBe(0xfefffn);
    expect(params.get(HVM_PARAM.IOREQ_PFN)).toBe(0xfeffdn);
    expect(params.get(HVM_PARAM.BUFIOREQ_PFN)).toBe(0xfeffbn);
    expect(Number(params.get(HVM_PARAM.STORE_EVTCHN))).toBe(rec.store.port);
    expect(Number(params.get(HVM_PARAM.CONSOLE_EVTCHN))).toBe(rec.console.port);
    settle(t.host, toolstack.destroy(rec.domid));
  });

  it('writes hvm_info_table with a valid checksum, and the xenstore keys libxl writes for HVM', () => {
    const rec = settle(t.host, toolstack.create(guest(HVM('info', 0, 48)))).result!;
    const mem = t.host.domains.get(rec.domid)!.guestMemory;
    const table = mem.read(guestPhysAddr(HVM_INFO_PADDR), HvmInfoTable.size);
    expect(Buffer.from(table.subarray(0, 8)).toString()).toBe('HVM INFO');
    expect(table.reduce((a, b) => a + b, 0) % 256).toBe(0);
    const view = new DataView(table.buffer, table.byteOffset);
    expect(view.getUint32(HvmInfoTable.nrVcpus, true)).toBe(2);
    expect(table[HvmInfoTable.vcpuOnline]).toBe(0b11);
    expect(view.getUint32(HvmInfoTable.lowMemPgend, true)).toBe(48 * 256);
    expect(view.getUint32(HvmInfoTable.highMemPgend, true)).toBe(0);
    expect(view.getUint32(HvmInfoTable.reservedMemPgstart, true)).toBe(0xfeff0);
    const x = xs.dom0;
    expect(x.read(`/local/domain/${rec.domid}/platform/acpi`)).toBe('1');
    expect(x.read(`/local/domain/${rec.domid}/platform/acpi_s3`)).toBe('0');
    expect(x.read(`/local/domain/${rec.domid}/hvmloader/allow-memory-relocate`)).toBe('0');
    expect(x.read(`/local/domain/0/device-model/${rec.domid}/disable_pf`)).toBe('1');
    expect(x.read(`/libxl/${rec.domid}/type`)).toBe('hvm');
    settle(t.host, toolstack.destroy(rec.domid));
  });

  it('boots the firmware: PCI BARs assigned, the E820 map and the command line handed to the kernel in RDI, paging off', () => {
    const rec = settle(t.host, toolstack.create(guest(HVM('fw', 1, 64)))).result!;
    t.host.engine.runFor(50e6);
    const e = entries.find((x) => x.domid === rec.domid)!;
    expect(e).toBeDefined();
    expect(e.rdi).toBe(HVM_BOOT_METADATA_ADDR);
    expect(e.magic).toBe(HVM_BOOT_METADATA_MAGIC);
    expect(e.cr0 & 0x8000_0000).toBe(0);
    expect(e.cmdline).toBe('boot_verbose');
    expect(e.smap).toEqual([
      { base: 0, length: 0x9f000, type: E820.RAM },
      { base: 0x9f000, length: 0x1000, type: E820.RESERVED },
      { base: 0xea000, length: 0x1000, type: E820.ACPI },
      { base: 0xf0000, length: 0x10000, type: E820.RESERVED },
      { base: 0x100000, length: 64 * 2 ** 20 - 0x100000, type: E820.RAM },
      { base: 0xfeff0000, length: 0x10000, type: E820.RESERVED },
    ]);
    // The platform device: BAR0 256 bytes of I/O, BAR1 16 MiB of prefetchable MMIO — largest first from each window.
    const [bar0, bar1] = e.bars.get('5853:1')!;
    expect(bar0 & ~0x3).toBeGreaterThanOrEqual(0xc000);
    expect(bar0 & 0x1).toBe(1);
    expect((bar1 & ~0xf) >>> 0).toBe(0xf0000000);
    expect(bar1 & 0x8).toBe(0x8); // prefetchable
    settle(t.host, toolstack.destroy(rec.domid));
  });

  it('refuses hvm when the device-model plugin is missing, naming it, and destroys nothing it did not build', async () => {
    const bare = await bootToolstackHost({ modes: ['hvm', 'pvhvm'] });
    try {
      bare.host.kernels.register(PROBE);
      const ts = bare.host.plugins.resolveAll(Toolstack)[0]!;
      const before = bare.host.domains.size;
      const job = settle(bare.host, ts.create(guest(HVM('nodm', 0), '/tmp/nodm.cfg')));
      expect(job.error?.message).toMatch(/nodm\.cfg.*type.*"device-model" plugin/);
      expect(bare.host.domains.size).toBe(before);
    } finally {
      await bare.cleanup();
    }
  });
});

describe('the toolstack without a mode plugin', () => {
  it('refuses a type whose guest mode is not in the build, naming the key and the plugin to enable', async () => {
    const pvOnly = await bootToolstackHost({ modes: ['pv'] });
    try {
      const ts = pvOnly.host.plugins.resolveAll(Toolstack)[0]!;
      const pvh = settle(pvOnly.host, ts.create(guest('name = "p"\ntype = "pvh"\nkernel = "idle"\n', '/tmp/p.cfg')));
      expect(pvh.error?.message).toMatch(/p\.cfg.*type.*needs the pvh guest mode: enable the "pvh" plugin \(this build's guest modes: pv\)/);
      const hvm = settle(pvOnly.host, ts.create(guest('name = "h"\ntype = "hvm"\nkernel = "idle"\nxen_platform_pci = 0\n', '/tmp/h.cfg')));
      expect(hvm.error?.message).toMatch(/type "hvm" \(xen_platform_pci = 0\) needs the hvm guest mode: enable the "hvm" plugin/);
    } finally {
      await pvOnly.cleanup();
    }
  });
});
