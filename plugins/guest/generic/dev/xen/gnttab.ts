/**
 * The guest's grant table (FreeBSD's xen/gnttab.c): maps the table's frames (XENMEM_add_to_physmap when
 * auto-translated, GNTTABOP_setup_table and the page tables for PV), hands out references from a free
 * list, and writes v1 entries as Xen reads them — domid and frame first, the flags last.
 */
import { GNTTAB_NR_RESERVED_ENTRIES, GRANT_ENTRIES_PER_FRAME_V1, GTF, GrantEntryV1, PAGE_SIZE, PTE_P, PTE_RW, PvStartInfo, UVMF, XENMAPSPACE } from '../../../../../core/public/index.js';
import type { Kernel } from '../../kern/kernel.js';

/** Frames the table starts with, and the most it grows to (Xen's default max_grant_frames). */
const INITIAL_FRAMES = 4;
const MAX_FRAMES = 64;

export class GrantTableClient {
  /** Guest address of each table frame. */
  private readonly frames: number[] = [];
  private readonly freeRefs: number[] = [];
  private readonly translated: boolean;
  /** References in use (granted and not yet ended). */
  inUse = 0;

  constructor(private readonly k: Kernel) {
    this.translated = k.initOps?.mode !== 'pv';
  }

  /** Table frames mapped. */
  get nrFrames(): number {
    return this.frames.length;
  }

  /** Maps the first frames; references from GNTTAB_NR_RESERVED_ENTRIES on become free. */
  init(): void {
    this.grow(INITIAL_FRAMES);
  }

  private grow(want: number): void {
    const from = this.frames.length;
    const to = Math.min(want, MAX_FRAMES);
    if (to <= from) throw new Error(`gnttab: out of grant references (${from} frames, the most Xen grants us)`);
    const k = this.k;
    if (this.translated) {
      for (let i = from; i < to; i++) {
        const gpfn = k.phys.allocate();
        k.hv.addToPhysmap(XENMAPSPACE.grant_table, i, gpfn);
        this.frames.push(gpfn * PAGE_SIZE);
      }
    } else {
      const mfns = k.bsp.ops.gnttabSetupTable(to);
      for (let i = from; i < to; i++) {
        const va = k.phys.allocate() * PAGE_SIZE;
        k.hv.updateVaMapping(va, mfns[i]! * PAGE_SIZE + (PTE_P | PTE_RW), UVMF.INVLPG);
        this.frames.push(va);
      }
    }
    const first = Math.max(from * GRANT_ENTRIES_PER_FRAME_V1, GNTTAB_NR_RESERVED_ENTRIES);
    for (let ref = to * GRANT_ENTRIES_PER_FRAME_V1 - 1; ref >= first; ref--) this.freeRefs.push(ref);
  }

  private entryAddr(ref: number): number {
    return this.frames[Math.floor(ref / GRANT_ENTRIES_PER_FRAME_V1)]! + (ref % GRANT_ENTRIES_PER_FRAME_V1) * GrantEntryV1.size;
  }

  /** The frame number a grant of our page `pfn` carries: the gfn when auto-translated, the machine frame for PV. */
  frameOf(pfn: number): number {
    if (this.translated) return pfn;
    const m = this.k.v.memory;
    return m.readU64(m.readU64(this.k.preloadStartInfo + PvStartInfo.mfnList) + pfn * 8);
  }

  /** gnttab_grant_foreign_access: lets `domid` map or copy our page `pfn`; returns the reference. */
  grantAccess(domid: number, pfn: number, readonly: boolean): number {
    if (this.freeRefs.length === 0) this.grow(this.frames.length * 2);
    const ref = this.freeRefs.pop()!;
    const m = this.k.v.memory;
    const at = this.entryAddr(ref);
    m.writeU16(at + GrantEntryV1.domid, domid);
    m.writeU32(at + GrantEntryV1.frame, this.frameOf(pfn));
    m.writeU16(at + GrantEntryV1.flags, GTF.permit_access | (readonly ? GTF.readonly : 0));
    this.inUse++;
    return ref;
  }

  /** True while the other end has the grant mapped or is copying (GTF_reading / GTF_writing). */
  busy(ref: number): boolean {
    return (this.k.v.memory.readU16(this.entryAddr(ref) + GrantEntryV1.flags) & (GTF.reading | GTF.writing)) !== 0;
  }

  /**
   * gnttab_end_foreign_access_ref: revokes the grant unless it is in use, and frees the reference.
   * False (nothing changed) while the other end still uses it.
   */
  endAccess(ref: number): boolean {
    if (this.busy(ref)) return false;
    this.k.v.memory.writeU16(this.entryAddr(ref) + GrantEntryV1.flags, 0);
    this.freeRefs.push(ref);
    this.inUse--;
    return true;
  }
}

const tables = new WeakMap<Kernel, GrantTableClient>();

/** The kernel's grant table, set up on first use. */
export function gnttab(k: Kernel): GrantTableClient {
  let t = tables.get(k);
  if (t === undefined) {
    t = new GrantTableClient(k);
    t.init();
    tables.set(k, t);
    k.printf(`gnttab: ${t.nrFrames} frames mapped (${t.nrFrames * GRANT_ENTRIES_PER_FRAME_V1} entries, ${k.initOps?.mode === 'pv' ? 'GNTTABOP_setup_table' : 'XENMEM_add_to_physmap'})`);
  }
  return t;
}
