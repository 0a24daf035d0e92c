/**
 * The PV memory manager's state and in-core API: page types, the M2P, each vCPU's base tables, the
 * entry update every hypercall funnels through (mod_lN_entry), and keeping the vCPUs' TLBs coherent.
 */
import { GuestError } from '../api/errors.js';
import type { PrivilegedInstruction } from '../api/domain.js';
import type { PvMm, PvMmStats, PvPageInfo } from '../api/pv-mm.js';
import type { HypervisorContext } from '../host/subsystem.js';
import { PAGE_SIZE } from '../public/memory.js';
import { PTE_A, PTE_D, PTE_P } from '../public/paging.js';
import { INVALID_M2P_ENTRY } from '../public/pv-mm.js';
import { float64Column } from './frame-column.js';
import type { DomId, MachineFrame } from '../public/types.js';
import { PageTypes, entryHasChanged, isGuestL4Slot, type TableLevel } from './page-types.js';
import { emulateIo, emulatePrivileged } from './emulate.js';

interface DomainStats {
  updates: number;
  refused: number;
  traps: number;
}

/** One vCPU's root tables (arch.guest_table / guest_table_user), as machine frames (0 = none). */
interface BaseTables {
  kernel: number;
  user: number;
}

/** The PV memory manager of one host. */
export class PvMmImpl implements PvMm {
  readonly types: PageTypes;
  /** The machine-to-phys table (Xen's M2P): a pfn per frame, NaN where none was set. */
  private readonly m2pTable = float64Column();
  private readonly bases = new Map<number, BaseTables[]>();
  private readonly counters = new Map<number, DomainStats>();
  private readonly logged = new Set<string>();

  constructor(readonly ctx: HypervisorContext) {
    this.types = new PageTypes(ctx.memory, (domid) => ctx.domains.get(domid)?.privileged === true);
  }

  // --- PvMm -------------------------------------------------------------------------------------

  setBaseTable(domid: number, vcpu: number, l4: MachineFrame): void {
    this.checkVcpu(domid, vcpu);
    try {
      this.newGuestCr3(domid, vcpu, l4);
    } catch (error) {
      if (!(error instanceof GuestError)) throw error;
      throw new GuestError('EINVAL', `cannot install L4 ${hex(l4)} as vcpu${vcpu}'s base table: ${error.detail}`, { domid });
    }
  }

  inUse(mfn: MachineFrame): boolean {
    return this.types.inUse(mfn);
  }

  pageInfo(mfn: MachineFrame): PvPageInfo {
    return this.types.info(mfn);
  }

  m2p(mfn: MachineFrame): number {
    const pfn = this.m2pTable.get(mfn);
    return Number.isNaN(pfn) ? INVALID_M2P_ENTRY : pfn;
  }

  setM2p(domid: number, mfn: MachineFrame, pfn: number): void {
    const owner = this.ctx.memory.ownerOf(mfn);
    if (owner !== domid) throw new GuestError('EINVAL', `pv-mm: M2P update of mfn ${hex(mfn)}, which dom${domid} does not own`, { domid });
    this.m2pTable.set(mfn, pfn);
  }

  clearM2p(mfn: MachineFrame): void {
    this.m2pTable.set(mfn, NaN);
  }

  stats(domid: number): PvMmStats {
    return { ...this.statsOf(domid) };
  }

  emulatePrivileged(domid: number, vcpu: number, insn: PrivilegedInstruction, operand: number): number {
    return emulatePrivileged(this, domid, vcpu, insn, operand);
  }

  emulateIo(domid: number, vcpu: number, space: 'pio' | 'mmio', addr: number, size: number, write: boolean, value: number): number {
    return emulateIo(this, domid, vcpu, space, addr, size, write, value);
  }

  // --- for the hypercall handlers and the emulator ----------------------------------------------

  /** The mutable counters of a domain. */
  statsOf(domid: number): DomainStats {
    let s = this.counters.get(domid);
    if (s === undefined) {
      s = { updates: 0, refused: 0, traps: 0 };
      this.counters.set(domid, s);
    }
    return s;
  }

  /** Counts a refused request and logs it the first time this domain is refused for this reason. */
  refused(domid: number, op: string, error: GuestError): void {
    this.statsOf(domid).refused++;
    const key = `${domid}:${op}:${error.code}`;
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.ctx.log.warn(`dom${domid} ${op} refused (${error.code}): ${error.detail}`);
  }

  /** The vCPU's kernel base table (0 when none). */
  baseTable(domid: number, vcpu: number): number {
    return this.bases.get(domid)?.[vcpu]?.kernel ?? 0;
  }

  /**
   * mod_l1_entry .. mod_l4_entry: replaces entry `index` of table `table` (of level `level`, owned by
   * `ptOwner`) with `(lo, hi)`, taking the new entry's references before dropping the old one's. An
   * unchanged frame with changes only in fast-path flags needs no revalidation. Returns whether a
   * present entry changed, so that cached translations must go.
   */
  modEntry(level: TableLevel, table: number, index: number, lo: number, hi: number, preserveAd: boolean, ptOwner: number, pgOwner: number): boolean {
    if (level === 4 && !isGuestL4Slot(index)) {
      throw new GuestError('EINVAL', `pv-mm: L4 update in Xen-private slot ${index} of mfn ${hex(table)}`, { domid: ptOwner });
    }
    const words = this.ctx.memory.frameWords(table as MachineFrame);
    const oldLo = words[2 * index]!;
    const oldHi = words[2 * index + 1]!;
    const site = { table, index };
    const slow = (lo & PTE_P) !== 0 && ((oldLo & PTE_P) === 0 || entryHasChanged(oldLo, oldHi, lo, hi));
    if ((lo & PTE_P) !== 0) {
      const bad = this.types.disallowedFlags(level, lo, hi, ptOwner);
      if (bad !== 0) throw new GuestError('EINVAL', `pv-mm: L${level} entry ${index} of mfn ${hex(table)}: bad L${level} flags ${hex(bad)}`, { domid: ptOwner });
      if (slow) this.types.getEntry(level, lo, hi, ptOwner, pgOwner, site);
    }
    if (preserveAd) lo |= oldLo & (PTE_A | PTE_D);
    words[2 * index] = lo >>> 0;
    words[2 * index + 1] = hi >>> 0;
    if ((lo & PTE_P) === 0 || slow) this.types.putEntry(level, oldLo, oldHi);
    return (oldLo & PTE_P) !== 0 && (oldLo !== lo >>> 0 || oldHi !== hi >>> 0);
  }

  /**
   * new_guest_cr3: makes L4 frame `mfn` the vCPU's base table (a type reference of `l4`, validated
   * on first use), drops the old one's, and reloads CR3. The same frame again only flushes the TLB.
   */
  newGuestCr3(domid: number, vcpu: number, mfn: number): void {
    const base = this.basesOf(domid, vcpu);
    const old = base.kernel;
    if (old !== mfn) {
      this.types.getPageAndType(mfn, 'l4', domid);
      base.kernel = mfn;
    }
    const regs = this.ctx.domains.lookup(domid).vcpus[vcpu]!.context;
    regs.cr3 = mfn * PAGE_SIZE;
    this.ctx.guestAccessOf(domid, vcpu)?.mmu?.writeCr3(regs.cr3);
    if (old !== 0 && old !== mfn) this.types.putType(old);
  }

  /** MMUEXT_NEW_USER_BASEPTR: the table used in guest user mode (0 = none). */
  newUserBaseptr(domid: number, vcpu: number, mfn: number): void {
    const base = this.basesOf(domid, vcpu);
    const old = base.user;
    if (old === mfn) return;
    if (mfn !== 0) this.types.getPageAndType(mfn, 'l4', domid);
    base.user = mfn;
    if (old !== 0) this.types.putType(old);
  }

  /** Flushes the TLB of each listed vCPU of `domid` (all when `vcpus` is undefined), or just `va`'s entry. */
  flush(domid: number, vcpus: Iterable<number> | undefined, va?: number): void {
    const domain = this.ctx.domains.get(domid);
    if (domain === undefined) return;
    for (const v of vcpus ?? domain.vcpus.map((x) => x.vcpuId)) {
      const mmu = this.ctx.guestAccessOf(domid, v)?.mmu;
      if (mmu === undefined) continue;
      if (va === undefined) mmu.flushTlb();
      else mmu.invlpg(va);
    }
  }

  /** A vCPU id of `domid`, or EINVAL. */
  checkVcpu(domid: number, vcpu: number): void {
    const domain = this.ctx.domains.lookup(domid);
    if (!Number.isInteger(vcpu) || domain.vcpus[vcpu] === undefined) throw new GuestError('EINVAL', `pv-mm: dom${domid} has no vcpu${vcpu}`, { domid });
  }

  /** Domain death: the domain's type state, base tables and M2P entries are dropped. */
  dropDomain(domid: number): void {
    const frames = this.ctx.memory.framesOwnedBy(domid as DomId);
    this.types.dropDomain(domid, frames);
    this.bases.delete(domid);
    for (const mfn of frames) this.m2pTable.set(mfn, NaN);
  }

  /** Forgets the counters of a destroyed domain. */
  forget(domid: number): void {
    this.counters.delete(domid);
    for (const key of this.logged) if (key.startsWith(`${domid}:`)) this.logged.delete(key);
  }

  /** The debug dump. */
  dump(): string {
    const census = Object.entries(this.types.census()).map(([t, n]) => `${t} ${n}`).join(', ');
    const lines = [`pv-mm: typed frames: ${census || 'none'}; M2P entries ${[...this.m2pTable.entries()].length}`];
    for (const [domid, s] of this.counters) lines.push(`  dom${domid}: updates ${s.updates}, refused ${s.refused}, traps ${s.traps}`);
    for (const [domid, bases] of this.bases) {
      const list = bases.map((b, v) => (b === undefined ? '' : ` vcpu${v} cr3 ${hex(b.kernel)}${b.user ? ` user ${hex(b.user)}` : ''}`)).join('');
      lines.push(`  dom${domid}:${list}`);
    }
    return lines.join('\n');
  }

  private basesOf(domid: number, vcpu: number): BaseTables {
    let list = this.bases.get(domid);
    if (list === undefined) {
      list = [];
      this.bases.set(domid, list);
    }
    return (list[vcpu] ??= { kernel: 0, user: 0 });
  }
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
