/**
 * balloon (FreeBSD's dev/xen/balloon/balloon.c): follows `memory/target` (KiB) in xenstore. Below our
 * reservation it takes free frames from the top of the page allocator and gives them to Xen with
 * XENMEM_decrease_reservation; above it, it asks for the frames it gave away back with
 * XENMEM_populate_physmap (a PV guest also writes the new machine frames into its P2M list) and
 * frees them to the allocator. It never takes more back than it gave: the rest of a target above
 * the boot reservation is ignored, as FreeBSD's balloon does.
 *
 * The automatic policy (`hw.balloon.auto=1`, off by default) is self-ballooning: once a second it
 * aims at the memory in use plus `hw.balloon.auto_reserve_pct` percent of RAM kept free, never
 * above `memory/target`; so an idle guest hands back what it does not use and takes memory again,
 * up to the toolstack's target, as its use grows.
 */
import type { VcpuRequest } from '../../../../../../core/api/index.js';
import { PAGE_SIZE, PTE_A, PTE_P, PTE_RW, PvStartInfo, UVMF, X86_CR0_PG } from '../../../../../../core/public/index.js';
import type { Driver } from '../../../kern/bus.js';
import type { Kernel } from '../../../kern/kernel.js';
import { parseCount } from '../../../kern/kern_sysctl.js';
import { MAX_EXTENTS_PER_CALL } from '../xen_ops.js';
import { addWatch } from '../xenstore/xenbus.js';

const TARGET_NODE = 'memory/target';
const AUTO_PERIOD_NS = 1e9;
const KIB_PER_PAGE = PAGE_SIZE / 1024;
/** Linux's INVALID_P2M_ENTRY (~0UL): a pfn with no machine frame behind it. */
const INVALID_P2M_ENTRY = 0xffff_ffff_ffff_ffffn;

export class Balloon {
  /** Frames given to Xen, most recent last (taken back in reverse). */
  private readonly ballooned: number[] = [];
  /** memory/target in pages (undefined until read). */
  targetPages: number | undefined;
  /** RAM pages we hold: the RAM the boot memory map gave (as FreeBSD's and Linux's balloons count), then kept by our own changes. */
  currentPages = 0;
  /** The automatic policy is on ({@link setAuto}). */
  get auto(): boolean {
    return this.autoOn;
  }
  private autoOn = false;
  autoReservePct = 25;
  private nextAuto = 0;

  constructor(private readonly k: Kernel) {}

  /** Frames given back to Xen now. */
  get lowMem(): number {
    return this.ballooned.length;
  }

  init(): void {
    this.currentPages = this.k.phys.ramFrames;
  }

  /** The target the balloon works toward: memory/target, lowered by the automatic policy. */
  private goal(): number | undefined {
    if (this.targetPages === undefined) return undefined;
    if (!this.auto) return this.targetPages;
    // Give back free frames beyond the reserve, or take back what the reserve lacks.
    const phys = this.k.phys;
    const want = this.currentPages - phys.freeFrames + Math.ceil((phys.ramFrames * this.autoReservePct) / 100);
    return Math.min(this.targetPages, want);
  }

  /** Moves toward the goal; returns the pages given (negative) or taken (positive). */
  adjust(): number {
    const goal = this.goal();
    if (goal === undefined) return 0;
    if (goal < this.currentPages) return -this.decrease(this.currentPages - goal);
    if (goal > this.currentPages) return this.increase(Math.min(goal - this.currentPages, this.ballooned.length));
    return 0;
  }

  private decrease(n: number): number {
    const ops = this.k.bsp.ops;
    let done = 0;
    while (done < n) {
      const batch: number[] = [];
      while (batch.length < Math.min(MAX_EXTENTS_PER_CALL, n - done)) {
        const f = this.k.phys.allocateHigh();
        if (f === undefined) break;
        batch.push(f);
      }
      if (batch.length === 0) break;
      // A PV kernel names machine frames (its P2M list says which) and its 1:1 map still maps each
      // frame: Xen would keep a mapped frame, so it unmaps them first.
      const pv = this.k.initOps?.mode === 'pv';
      const frames = pv ? batch.map((f) => this.pfnToMfn(f)) : batch;
      if (this.pvPaging) for (const f of batch) this.k.hv.updateVaMapping(f * PAGE_SIZE, 0, UVMF.INVLPG);
      const r = ops.reservation('decrease_reservation', frames);
      if (this.pvPaging) batch.slice(r.done).forEach((f, i) => this.remap(f, frames[r.done + i]!));
      if (pv) this.invalidateP2m(batch.slice(0, r.done));
      for (const f of batch.slice(r.done)) this.k.phys.release(f);
      this.ballooned.push(...batch.slice(0, r.done));
      done += r.done;
      this.currentPages -= r.done;
      if (r.done < batch.length) break;
    }
    return done;
  }

  private increase(n: number): number {
    const ops = this.k.bsp.ops;
    let done = 0;
    while (done < n) {
      const batch = this.ballooned.slice(-Math.min(MAX_EXTENTS_PER_CALL, n - done)).reverse();
      if (batch.length === 0) break;
      const r = ops.reservation('populate_physmap', batch);
      const got = batch.slice(0, r.done);
      this.ballooned.splice(this.ballooned.length - r.done, r.done);
      if (this.k.initOps?.mode === 'pv') this.updateP2m(got, r.out);
      if (this.pvPaging) got.forEach((f, i) => this.remap(f, r.out[i]!));
      for (const f of got) this.k.phys.release(f);
      done += r.done;
      this.currentPages += r.done;
      if (r.done < batch.length) break;
    }
    return done;
  }

  /** PV with paging on: frames are reached through the kernel's own page tables (its 1:1 map at VA 0). */
  private get pvPaging(): boolean {
    return this.k.initOps?.mode === 'pv' && (this.k.v.regs.cr0 & X86_CR0_PG) !== 0;
  }

  /** Maps pseudo-physical frame `pfn`'s address to machine frame `mfn` again (read-write, as the builder did). */
  private remap(pfn: number, mfn: number): void {
    this.k.hv.updateVaMapping(pfn * PAGE_SIZE, mfn * PAGE_SIZE + (PTE_P | PTE_RW | PTE_A), UVMF.INVLPG);
  }

  private pfnToMfn(pfn: number): number {
    const m = this.k.v.memory;
    return m.readU64(m.readU64(this.k.preloadStartInfo + PvStartInfo.mfnList) + pfn * 8);
  }

  /** PV: frames given back map to INVALID_P2M_ENTRY in the P2M list until populate_physmap fills them again. */
  private invalidateP2m(pfns: number[]): void {
    const m = this.k.v.memory;
    const list = m.readU64(this.k.preloadStartInfo + PvStartInfo.mfnList);
    for (const pfn of pfns) m.writeU64Big(list + pfn * 8, INVALID_P2M_ENTRY);
  }

  /** PV: the P2M list at start_info.mfn_list maps each pfn to the machine frame Xen gave. */
  private updateP2m(pfns: number[], mfns: number[]): void {
    const m = this.k.v.memory;
    const list = m.readU64(this.k.preloadStartInfo + PvStartInfo.mfnList);
    pfns.forEach((pfn, i) => m.writeU64(list + pfn * 8, mfns[i]!));
  }

  /** The automatic policy's next look (0 = off). */
  deadline(): number {
    return this.auto ? this.nextAuto : 0;
  }

  /** Called whenever {@link deadline} changed (the driver makes its handler due then). */
  onDeadline: (() => void) | undefined = undefined;

  /** Runs the automatic policy when its second came. */
  tick(now: number): boolean {
    if (!this.auto || now < this.nextAuto) return false;
    this.nextAuto = now + AUTO_PERIOD_NS;
    this.onDeadline?.();
    return this.adjust() !== 0;
  }

  /** Turns the automatic policy on (its first look at once) or off. */
  setAuto(on: boolean, now: number): void {
    this.autoOn = on;
    if (on) this.nextAuto = now;
    this.onDeadline?.();
  }
}

function* onTarget(k: Kernel, b: Balloon, name: string): Generator<VcpuRequest, void, unknown> {
  const text = yield* k.xenstore!.read(TARGET_NODE);
  if (text === undefined) return;
  if (!/^\d+$/.test(text)) {
    k.printf(`${name}: ignoring ${TARGET_NODE} "${text}": not a number of KiB`);
    return;
  }
  b.targetPages = Math.floor(Number(text) / KIB_PER_PAGE);
  const moved = b.adjust();
  if (moved !== 0) k.printf(`${name}: target ${text} KiB: ${moved < 0 ? `gave ${-moved} pages to Xen` : `took ${moved} pages back`}; holding ${b.currentPages} pages`);
}

export const balloonDriver: Driver = {
  name: 'balloon',
  description: 'Xen Balloon Device',
  *attach(k, dev) {
    const b = new Balloon(k);
    b.init();
    const s = k.sysctl;
    s.addRo('hw.balloon.current', 'Current allocation (KiB)', () => b.currentPages * KIB_PER_PAGE);
    s.addRo('hw.balloon.target', 'Target allocation (KiB)', () => (b.targetPages ?? b.currentPages) * KIB_PER_PAGE);
    s.addRo('hw.balloon.low_mem', 'Memory given back to Xen (KiB)', () => b.lowMem * KIB_PER_PAGE);
    s.add({
      name: 'hw.balloon.auto',
      description: 'Automatic policy: keep in-use memory plus auto_reserve_pct free, at most memory/target',
      get: () => (b.auto ? 1 : 0),
      set: (value) => {
        b.setAuto(parseCount('hw.balloon.auto', value, 1) === 1, k.v.now);
        if (!b.auto) b.adjust();
      },
    });
    s.add({
      name: 'hw.balloon.auto_reserve_pct',
      description: 'Percent of RAM the automatic policy keeps free',
      get: () => b.autoReservePct,
      set: (value) => {
        b.autoReservePct = parseCount('hw.balloon.auto_reserve_pct', value, 100);
      },
    });
    const intr = k.bindIntr({
      name: dev.nameunit,
      port: k.xenstore!.port,
      // eslint-disable-next-line require-yield
      *handle() {
        return b.tick(k.v.now);
      },
    });
    b.onDeadline = () => {
      intr.due = b.deadline();
    };
    b.onDeadline();
    k.printf(`${dev.nameunit}: holding ${b.currentPages} pages (Xen counts ${k.bsp.ops.currentReservation()} with its special pages)`);
    yield* addWatch(k, TARGET_NODE, dev.nameunit, () => onTarget(k, b, dev.nameunit));
  },
};
