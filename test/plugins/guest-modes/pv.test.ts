import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PvMm, Toolstack, type Toolstack as ToolstackApi } from '../../../core/api/index.js';
import { PAGE_SIZE, PTE_P, PTE_RW, PvStartInfo } from '../../../core/public/index.js';
import { buildInitialPageTables, tableCounts } from '../../../plugins/guest-modes/pv/index.js';
import { bootToolstackHost, guest, settle, type ToolstackHost } from '../dom0/toolstack/harness.js';

/** One 64-bit entry of a machine frame, as the MMU reads it. */
function entry(t: ToolstackHost, mfn: number, index: number): number {
  const view = new DataView(t.host.memory.frameBytes(mfn as never).buffer, t.host.memory.frameBytes(mfn as never).byteOffset);
  return view.getUint32(index * 8, true) + view.getUint32(index * 8 + 4, true) * 2 ** 32;
}

/** Walks VA `va` from the L4 at machine frame `l4`: the leaf entry (machine address | flags) and the table frames met. */
function walk(t: ToolstackHost, l4: number, va: number): { leaf: number; tables: number[] } {
  let mfn = l4;
  const tables = [l4];
  for (const shift of [39, 30, 21]) {
    const e = entry(t, mfn, Math.floor(va / 2 ** shift) % 512);
    expect(e & PTE_P).toBe(PTE_P);
    mfn = Math.floor(e / PAGE_SIZE) % 2 ** 40;
    tables.push(mfn);
  }
  return { leaf: entry(t, mfn, Math.floor(va / PAGE_SIZE) % 512), tables };
}

describe('the pv guest mode', () => {
  let t: ToolstackHost;
  let toolstack: ToolstackApi;
  beforeEach(async () => {
    t = await bootToolstackHost();
    toolstack = t.host.plugins.resolveAll(Toolstack)[0]!;
  });
  afterEach(async () => t.cleanup());

  it('maps all pseudo-physical memory 1:1 at VA 0 in 4 KiB pages, the tables read-only, and starts vCPU 0 on them', () => {
    const rec = settle(t.host, toolstack.create(guest('name = "pv1"\ntype = "pv"\nkernel = "idle"\nmemory = 16\n'))).result!;
    const d = t.host.domains.get(rec.domid)!;
    const pages = 16 * 256;
    const mem = d.vcpus[0]!.context;
    const si = mem.rsi;
    const p2m = t.host.p2mOf(rec.domid)!;
    const mfnOf = (pfn: number): number => p2m.mfnOf(pfn as never);
    const read = (addr: number): number => {
      const bytes = t.host.memory.frameBytes(mfnOf(Math.floor(addr / PAGE_SIZE)) as never);
      return new DataView(bytes.buffer, bytes.byteOffset).getUint32(addr % PAGE_SIZE, true);
    };
    const ptBase = read(si + PvStartInfo.ptBase);
    const nrPt = read(si + PvStartInfo.nrPtFrames);
    expect(nrPt).toBe(tableCounts(pages).total); // 1 L4 + 1 L3 + 1 L2 + 8 L1
    expect(nrPt).toBe(11);
    const firstPt = ptBase / PAGE_SIZE;
    expect(firstPt).toBe(Math.ceil((0x100000 + pages * 8) / PAGE_SIZE)); // right after the P2M list
    const l4 = mfnOf(firstPt);
    expect(mem.cr3).toBe(l4 * PAGE_SIZE);
    expect(mem.cr0 & 0x8000_0000).not.toBe(0);
    for (const pfn of [0, 1, 3, 511, 512, 1000, firstPt, firstPt + nrPt - 1, firstPt + nrPt, pages - 1]) {
      const { leaf, tables } = walk(t, l4, pfn * PAGE_SIZE);
      expect(Math.floor(leaf / PAGE_SIZE), `pfn ${pfn}`).toBe(mfnOf(pfn));
      const isTable = pfn >= firstPt && pfn < firstPt + nrPt;
      expect(leaf & PTE_RW, `pfn ${pfn} writable`).toBe(isTable ? 0 : PTE_RW);
      expect(tables.slice(1)).toEqual([1, 2, 3 + Math.floor(pfn / 512)].map((i) => mfnOf(firstPt + i))); // L3, L2, L1 in table order
    }
    // Past the end of memory nothing is mapped: 4096 pages fill eight L1 tables exactly, so L2 entry 8 is empty.
    const { tables } = walk(t, l4, (pages - 1) * PAGE_SIZE);
    expect(entry(t, tables[2]!, pages / 512)).toBe(0);
    // The core validated the tree and knows every frame.
    const mm = t.host.container.resolve(PvMm);
    expect(mm.pageInfo(l4 as never).type).toBe('l4');
    expect(mm.pageInfo(mfnOf(firstPt + nrPt - 1) as never).type).toBe('l1');
    for (const pfn of [0, 7, firstPt, pages - 1]) expect(mm.m2p(mfnOf(pfn) as never)).toBe(pfn);
  });

  it('builds the tables for any size, one entry per frame and nothing more', () => {
    for (const pages of [1, 511, 512, 513, 262_144 + 3]) {
      const pt = buildInitialPageTables(pages, 100, (pfn) => pfn + 0x1000);
      const n = tableCounts(pages);
      expect(pt.tables.length).toBe(n.total);
      let leaves = 0;
      for (const table of pt.tables.slice(1 + n.l3 + n.l2)) {
        const view = new DataView(table.buffer);
        for (let i = 0; i < 512; i++) if (view.getUint32(i * 8, true) !== 0) leaves++;
      }
      expect(leaves).toBe(pages);
    }
  });

  it('refuses a guest too small for its P2M list and page tables, naming memory', () => {
    const job = settle(t.host, toolstack.create(guest('name = "tiny"\ntype = "pv"\nkernel = "idle"\nmemory = 1\n', '/tmp/tiny.cfg')));
    expect(job.error?.message).toMatch(/tiny\.cfg.*memory.*too small for a pv guest/);
  });
});
