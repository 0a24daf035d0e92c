/**
 * A PV guest's initial page tables, in Mini-OS's x86_64 layout (libxc's alloc_pgtables/setup_pgtables
 * for a kernel at VA 0): the whole pseudo-physical space mapped 1:1 at virtual address 0 with 4 KiB
 * pages (VA pfn × 4096 → that pfn's machine frame), one L4, then the L3, L2 and L1 tables, in the
 * frames after the P2M list. Entries hold machine addresses; the table frames themselves are mapped
 * read-only, as Xen refuses a writable mapping of a page table.
 */
import { PAGE_SIZE, PTE_A, PTE_P, PTE_RW, PTE_US } from '../../../core/public/index.js';

/** Entries per table. */
const ENTRIES = 512;
/** Mini-OS's L1_PROT / L1_PROT_RO and the upper levels' protection (L2_PROT..L4_PROT). */
const L1_PROT = PTE_P | PTE_RW | PTE_A;
const L1_PROT_RO = PTE_P | PTE_A;
const UPPER_PROT = PTE_P | PTE_RW | PTE_A | PTE_US;

/** How many tables of each level map `pages` frames from VA 0 (L4, L3, L2, L1). */
export function tableCounts(pages: number): { l4: number; l3: number; l2: number; l1: number; total: number } {
  const l1 = Math.ceil(pages / ENTRIES);
  const l2 = Math.ceil(l1 / ENTRIES);
  const l3 = Math.ceil(l2 / ENTRIES);
  return { l4: 1, l3, l2, l1, total: 1 + l3 + l2 + l1 };
}

/** The built tables: their first pseudo-physical frame, their count, and each table's bytes in order (L4 first). */
export interface InitialPageTables {
  readonly firstPfn: number;
  readonly count: number;
  /** Pseudo-physical frame of the L4 (the first table). */
  readonly l4Pfn: number;
  readonly tables: readonly Uint8Array[];
}

/**
 * Builds the tables of a `pages`-frame guest in frames `firstPfn..`, `mfnOf(pfn)` giving each frame's
 * machine frame. The caller checks that the tables fit below `pages`.
 */
export function buildInitialPageTables(pages: number, firstPfn: number, mfnOf: (pfn: number) => number): InitialPageTables {
  const n = tableCounts(pages);
  const l3First = firstPfn + 1;
  const l2First = l3First + n.l3;
  const l1First = l2First + n.l2;
  const end = firstPfn + n.total;
  const tables = Array.from({ length: n.total }, () => new Uint8Array(PAGE_SIZE));
  const views = tables.map((t) => new DataView(t.buffer));
  const entry = (table: number, index: number, pfn: number, prot: number): void => {
    const maddr = mfnOf(pfn) * PAGE_SIZE;
    views[table]!.setUint32(index * 8, (maddr % 2 ** 32) + prot, true);
    views[table]!.setUint32(index * 8 + 4, Math.floor(maddr / 2 ** 32), true);
  };
  for (let i = 0; i < n.l3; i++) entry(0, i, l3First + i, UPPER_PROT);
  for (let i = 0; i < n.l2; i++) entry(1 + Math.floor(i / ENTRIES), i % ENTRIES, l2First + i, UPPER_PROT);
  for (let i = 0; i < n.l1; i++) entry(1 + n.l3 + Math.floor(i / ENTRIES), i % ENTRIES, l1First + i, UPPER_PROT);
  for (let pfn = 0; pfn < pages; pfn++) {
    const readOnly = pfn >= firstPfn && pfn < end;
    entry(1 + n.l3 + n.l2 + Math.floor(pfn / ENTRIES), pfn % ENTRIES, pfn, readOnly ? L1_PROT_RO : L1_PROT);
  }
  return { firstPfn, count: n.total, l4Pfn: firstPfn, tables };
}
