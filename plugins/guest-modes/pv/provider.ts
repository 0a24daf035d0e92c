/**
 * The PV guest mode: everything paravirtualized (the seed article's last row). The builder's part is
 * libxc's PV path: start_info, the P2M list and the initial page tables, every frame entered in the
 * M2P, the L4 validated as vCPU 0's base table, and vCPU 0 started in long mode on it with RSI =
 * start_info's virtual address.
 */
import {
  ConfigError,
  type DomainConfig,
  type GuestBuildContext,
  type GuestMemoryLayout,
  type GuestModeProvider,
  type Logger,
  type PvMm,
} from '../../../core/api/index.js';
import { PAGE_SIZE, guestPhysAddr } from '../../../core/public/index.js';
import { PV_CONSOLE_PFN, PV_START_INFO_ADDR, PV_STORE_PFN, p2mListEnd, writePvStartInfo } from './start-info.js';
import { buildInitialPageTables, tableCounts } from './page-tables.js';

/** The long-mode control registers Xen runs a 64-bit PV vCPU with (arch_set_info_guest): PG|AM|WP|NE|ET|MP|PE; PAE|PGE; LME|LMA|NXE|SCE. */
const PV_CR0 = 0x8005_0033;
const PV_CR4 = 0xa0;
const PV_EFER = (1 << 0) | (1 << 8) | (1 << 10) | (1 << 11);

/** The smallest PV guest: its P2M list and page tables must end inside RAM. */
export function pvMinimumPages(pages: number): number {
  return p2mListEnd(pages) + tableCounts(pages).total;
}

export interface PvModeDeps {
  /** The core's PV MMU, or undefined when this build has none (then paging stays off). */
  pvMm(): PvMm | undefined;
  log: Logger;
}

export function pvMode(deps: PvModeDeps): GuestModeProvider {
  return {
    mode: 'pv',
    description: 'Paravirtualized: start_info boot, guest page tables of machine frames validated by the PV MMU, hypercalls for privileged operations',
    xlType: 'pv',
    virtualization: { diskAndNetwork: 'P', interruptsAndTimers: 'P', motherboardAndBoot: 'P', privilegedAndPageTables: 'P' },
    paging: () => 'pv-direct',
    emulatedApic: false,
    deviceModel: false,
    privileged: () => 'trap-emulate',
    layout(config: DomainConfig): GuestMemoryLayout {
      const pages = Math.floor(config.memoryBytes / PAGE_SIZE);
      if (pages < pvMinimumPages(pages)) {
        throw new ConfigError(`memory ${config.memoryBytes / 2 ** 20} MiB is too small for a pv guest`, { file: config.source.file, path: config.source.path ? `${config.source.path}.memory` : 'memory' });
      }
      return { ram: [{ start: 0, end: pages }], special: [], storeGfn: PV_STORE_PFN, consoleGfn: PV_CONSOLE_PFN };
    },
    build(ctx: GuestBuildContext): void {
      const { domain: d, pages, builder: v } = ctx;
      const p2m = Array.from({ length: pages }, (_, pfn) => ctx.mfn(pfn));
      const pt = buildInitialPageTables(pages, p2mListEnd(pages), (pfn) => p2m[pfn]!);
      pt.tables.forEach((table, i) => ctx.memory.write(guestPhysAddr((pt.firstPfn + i) * PAGE_SIZE), table));
      const shared = d.sharedInfo;
      const bytes = writePvStartInfo(ctx.memory, {
        nrPages: pages,
        sharedInfoMaddr: shared.mfn * PAGE_SIZE,
        storeMfn: p2m[ctx.store.gfn]!,
        storeEvtchn: ctx.store.port,
        consoleMfn: p2m[ctx.console.gfn]!,
        consoleEvtchn: ctx.console.port,
        ptBase: pt.l4Pfn * PAGE_SIZE,
        nrPtFrames: pt.count,
        p2m,
        cmdline: ctx.cmdline,
      });
      v.charge('copyPerByte', bytes + pt.count * PAGE_SIZE);
      const boot = d.vcpus[0]!.context;
      boot.rsi = PV_START_INFO_ADDR;
      d.vcpus[0]!.setProgram(ctx.kernel.entry(d, 'pv'));
      const mm = deps.pvMm();
      if (mm === undefined) {
        deps.log.warn(`dom${d.domid}: the PV MMU is not in this build: ${d.name} starts with paging off`);
        return;
      }
      // MMU_MACHPHYS_UPDATE for every frame, batched as libxc does, then the base table (arch_set_info_guest).
      for (let pfn = 0; pfn < pages; pfn++) mm.setM2p(d.domid, p2m[pfn]!, pfn);
      v.charge('hypercall', Math.ceil(pages / 512) + 1);
      mm.setBaseTable(d.domid, 0, p2m[pt.l4Pfn]!);
      boot.cr3 = p2m[pt.l4Pfn]! * PAGE_SIZE;
      boot.cr0 = PV_CR0;
      boot.cr4 = PV_CR4;
      boot.efer = PV_EFER;
    },
  };
}
