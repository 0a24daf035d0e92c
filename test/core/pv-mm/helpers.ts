/**
 * A PV domain with Mini-OS's x86_64 initial page tables, built the way the domain builder (brief F)
 * will: the pseudo-physical space mapped 1:1 at VA 0 with 4 KiB pages, the table frames (the last
 * pseudo-physical frames here) mapped read-only, the M2P filled, and vCPU 0 running on the tables with
 * CR0.PG set. Also: hypercall helpers that write argument arrays through the guest's own mappings.
 */
import type { Host } from '../../../core/host/host.js';
import { populateFrom0 } from '../../../core/host/bare-guest.js';
import { PvMm, type PvMm as PvMmApi } from '../../../core/api/pv-mm.js';
import { DOMID_SELF, Hypercall, MmuUpdate, MmuextOp, PAGE_SIZE, PTE_P, PTE_RW, PTE_US, X86_CR0_PG, X86_CR0_WP, guestFrame, type MachineFrame } from '../../../core/public/index.js';
import { vcpuOf } from '../../hypervisor/harness.js';

export const X86_CR0_PE = 1;

export interface PvDomain {
  readonly domid: number;
  readonly pages: number;
  /** mfn of every pseudo-physical frame. */
  readonly mfns: readonly number[];
  readonly l4: number;
  readonly l3: number;
  readonly l2: number;
  readonly l1s: readonly number[];
  /** Pseudo-physical frames holding the tables. */
  readonly tablePfns: ReadonlySet<number>;
}

export function pvMmOf(host: Host): PvMmApi {
  return host.container.resolve(PvMm);
}

/** An entry's two words for `mfn` with `flags`. */
export function pte(mfn: number, flags: number): [number, number] {
  return [((mfn % 2 ** 20) * PAGE_SIZE + flags) >>> 0, Math.floor(mfn / 2 ** 20)];
}

function setEntry(host: Host, table: number, index: number, [lo, hi]: [number, number]): void {
  const w = host.memory.frameWords(table as MachineFrame);
  w[2 * index] = lo;
  w[2 * index + 1] = hi;
}

/** Creates a PV domain of `pages` frames (≤ 512 × 512) on Mini-OS-style initial tables. */
export function buildPvDomain(host: Host, pages = 256, vcpus = 1): PvDomain {
  const l1Count = Math.ceil(pages / 512);
  const d = host.domains.create({ mode: 'pv', vcpus, maxPages: pages, pages: 0, paused: true });
  populateFrom0({ engine: host.engine, p2mOf: (id) => host.p2mOf(id) }, d, pages);
  const p2m = host.p2mOf(d.domid)!;
  const mfns = Array.from({ length: pages }, (_, pfn) => p2m.mfnOf(guestFrame(pfn)));
  const first = pages - (3 + l1Count);
  const tablePfns = new Set(Array.from({ length: 3 + l1Count }, (_, i) => first + i));
  const [l4, l3, l2] = [mfns[first]!, mfns[first + 1]!, mfns[first + 2]!];
  const l1s = Array.from({ length: l1Count }, (_, i) => mfns[first + 3 + i]!);
  const upper = PTE_P | PTE_RW | PTE_US;
  setEntry(host, l4, 0, pte(l3, upper));
  setEntry(host, l3, 0, pte(l2, upper));
  l1s.forEach((l1, i) => setEntry(host, l2, i, pte(l1, upper)));
  for (let pfn = 0; pfn < pages; pfn++) {
    const flags = PTE_P | PTE_US | (tablePfns.has(pfn) ? 0 : PTE_RW);
    setEntry(host, l1s[pfn >> 9]!, pfn & 511, pte(mfns[pfn]!, flags));
  }
  const mm = pvMmOf(host);
  mfns.forEach((mfn, pfn) => mm.setM2p(d.domid, mfn as MachineFrame, pfn));
  for (let v = 0; v < vcpus; v++) {
    mm.setBaseTable(d.domid, v, l4 as MachineFrame);
    const regs = d.vcpus[v]!.context;
    regs.cr0 = X86_CR0_PG | X86_CR0_WP | X86_CR0_PE;
    regs.cr3 = l4 * PAGE_SIZE;
  }
  return { domid: d.domid, pages, mfns, l4, l3, l2, l1s, tablePfns };
}

/** Scratch VAs (pseudo-physical frames 16, 17: plain RAM) for argument arrays and `pdone`. */
export const REQS = 0x10000;
export const PDONE = 0x11000;

/** mmu_update of `reqs` ([ptr, val] as [lo, hi] word pairs or numbers) from `domid`'s vCPU 0; returns rc and *pdone. */
export function mmuUpdate(host: Host, domid: number, reqs: readonly (readonly [number | [number, number], number | [number, number]])[], foreigndom = DOMID_SELF, count = reqs.length): { rc: number; done: number } {
  const g = vcpuOf(host, domid).guest;
  reqs.forEach(([ptr, val], i) => {
    writeWords(g, REQS + i * MmuUpdate.size + MmuUpdate.ptr, ptr);
    writeWords(g, REQS + i * MmuUpdate.size + MmuUpdate.val, val);
  });
  g.writeU32(PDONE, 0xdead);
  const rc = host.dispatcher.dispatch(vcpuOf(host, domid), Hypercall.mmu_update, [REQS, count, PDONE, foreigndom]);
  return { rc, done: g.readU32(PDONE) };
}

/** mmuext_op of `ops` from `domid`'s vCPU `vcpu`; returns rc and *pdone. */
export function mmuextOp(host: Host, domid: number, ops: readonly { cmd: number; arg1?: number; arg2?: number }[], foreigndom = DOMID_SELF, vcpu = 0): { rc: number; done: number } {
  const g = vcpuOf(host, domid, vcpu).guest;
  ops.forEach((op, i) => {
    const at = REQS + i * MmuextOp.size;
    g.writeU32(at + MmuextOp.cmd, op.cmd);
    g.writeU64(at + MmuextOp.arg1, op.arg1 ?? 0);
    g.writeU64(at + MmuextOp.arg2, op.arg2 ?? 0);
  });
  g.writeU32(PDONE, 0xdead);
  const rc = host.dispatcher.dispatch(vcpuOf(host, domid, vcpu), Hypercall.mmuext_op, [REQS, ops.length, PDONE, foreigndom]);
  return { rc, done: g.readU32(PDONE) };
}

function writeWords(g: { writeU32(a: number, v: number): void }, at: number, value: number | [number, number]): void {
  const [lo, hi] = typeof value === 'number' ? [value % 2 ** 32 >>> 0, Math.floor(value / 2 ** 32)] : value;
  g.writeU32(at, lo);
  g.writeU32(at + 4, hi);
}

/** The machine address of entry `index` of table `mfn` (an mmu_update `ptr`, command 0). */
export function entryAddr(mfn: number, index: number): number {
  return mfn * PAGE_SIZE + index * 8;
}

/** A copy of every word of the given frames, to show a refused request changed nothing. */
export function snapshotFrames(host: Host, frames: readonly number[]): Uint32Array[] {
  return frames.map((f) => host.memory.frameWords(f as MachineFrame).slice());
}
