/**
 * An HVM guest's memory as libxc lays it out (xc_dom_x86 meminit_hvm, alloc_magic_pages_hvm): RAM from
 * 0 with the VGA hole 0xA0000–0xBFFFF left unpopulated, low RAM ending at the MMIO hole (0xF0000000,
 * libxl's default 256 MiB hole), the rest above 4 GiB; libxc's eight special pages just below
 * 0xFF000000, preceded by the ioreq-server page range.
 */
import { ConfigError, type DomainConfig, type GuestMemoryLayout } from '../../../core/api/index.js';
import { PAGE_SIZE, SPECIALPAGE, SPECIALPAGE_BASE, SPECIALPAGE_COUNT } from '../../../core/public/index.js';

/** The VGA window the builder leaves out of RAM: frames 0xA0..0xBF. */
export const VGA_HOLE = { start: 0xa0, end: 0xc0 } as const;
/** First frame of the MMIO hole below 4 GiB (PCI_MEM_START in hvmloader, where the firmware puts MMIO BARs). */
export const MMIO_HOLE_START_PFN = 0xf0000;
/** First frame above 4 GiB. */
export const HIGH_MEM_START_PFN = 0x100000;
/** libxc's NR_IOREQ_SERVER_PAGES, just below the special pages (HVM_PARAM_IOREQ_SERVER_PFN). */
export const NR_IOREQ_SERVER_PAGES = 8;
export const IOREQ_SERVER_PFN = SPECIALPAGE_BASE - NR_IOREQ_SERVER_PAGES;
/** The smallest HVM guest: the firmware and the kernel need RAM above 1 MiB. */
export const HVM_MINIMUM_PAGES = 0x400;

/** A special page's frame (libxc's special_pfn). */
export const specialPfn = (index: number): number => SPECIALPAGE_BASE + index;

/** What the hvm_info_table says of memory. */
export interface HvmMemory {
  /** Frame after the last low RAM frame (hvm_info_table.low_mem_pgend). */
  readonly lowMemPgend: number;
  /** Frame after the last RAM frame above 4 GiB, 0 when there is none. */
  readonly highMemPgend: number;
  readonly reservedMemPgstart: number;
}

/** Low and high RAM of a guest of `pages` frames. */
export function hvmMemory(pages: number): HvmMemory {
  const low = Math.min(pages, MMIO_HOLE_START_PFN);
  return { lowMemPgend: low, highMemPgend: pages > low ? HIGH_MEM_START_PFN + (pages - low) : 0, reservedMemPgstart: IOREQ_SERVER_PFN };
}

/** The layout an HVM or PVHVM guest gets: ConfigError naming `memory` when too small. */
export function hvmLayout(config: DomainConfig, mode: string): GuestMemoryLayout {
  const pages = Math.floor(config.memoryBytes / PAGE_SIZE);
  if (pages < HVM_MINIMUM_PAGES) {
    throw new ConfigError(`memory ${config.memoryBytes / 2 ** 20} MiB is too small for a ${mode} guest (at least ${(HVM_MINIMUM_PAGES * PAGE_SIZE) / 2 ** 20} MiB)`, { file: config.source.file, path: config.source.path ? `${config.source.path}.memory` : 'memory' });
  }
  const m = hvmMemory(pages);
  const ram = [
    { start: 0, end: VGA_HOLE.start },
    { start: VGA_HOLE.end, end: m.lowMemPgend },
    ...(m.highMemPgend > 0 ? [{ start: HIGH_MEM_START_PFN, end: m.highMemPgend }] : []),
  ];
  const special = Array.from({ length: SPECIALPAGE_COUNT }, (_, i) => specialPfn(i));
  return { ram, special, storeGfn: specialPfn(SPECIALPAGE.xenstore), consoleGfn: specialPfn(SPECIALPAGE.console) };
}
