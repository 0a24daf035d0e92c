/** Page geometry shared by every ring and hypercall interface (XEN_PAGE_SHIFT 12 on x86). */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_MASK = PAGE_SIZE - 1;
/** 2 MiB superpage (PDE with PS set). */
export const LARGE_PAGE_SIZE = 2 * 1024 * 1024;
/** 1 GiB superpage (PDPTE with PS set). */
export const HUGE_PAGE_SIZE = 1024 * 1024 * 1024;
/** Entries in one x86-64 page-table page. */
export const PT_ENTRIES = 512;
