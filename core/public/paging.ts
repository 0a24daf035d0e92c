/** x86-64 page-table, page-fault error-code and EPT bit constants (Intel SDM vol. 3, ch. 4 and 29). No logic. */

/*
 * Entries are 64-bit. Code reads them as two u32 halves, `lo` (bits 0..31) and `hi` (bits 32..63):
 * constants named *_HI are masks on the high half.
 */

/** Present. */
export const PTE_P = 1 << 0;
/** Read/write: writes allowed when set. */
export const PTE_RW = 1 << 1;
/** User/supervisor: user-mode accesses allowed when set. */
export const PTE_US = 1 << 2;
/** Page-level write-through. */
export const PTE_PWT = 1 << 3;
/** Page-level cache disable. */
export const PTE_PCD = 1 << 4;
/** Accessed: set by the walker on every entry it uses. */
export const PTE_A = 1 << 5;
/** Dirty: set by the walker on the leaf entry of a write. */
export const PTE_D = 1 << 6;
/** Page size: the entry maps a 2 MiB (L2) or 1 GiB (L3) page. Reserved in L4 entries. */
export const PTE_PS = 1 << 7;
/** Global: the translation survives CR3 writes when CR4.PGE is set (leaf entries only). */
export const PTE_G = 1 << 8;
/** PAT bit of a 4 KiB leaf (bit 7 of an L1 entry). */
export const PTE_PAT = 1 << 7;
/** PAT bit of a large-page leaf (bit 12). */
export const PTE_PAT_LARGE = 1 << 12;
/** No-execute, bit 63: bit 31 of the high half. Reserved unless EFER.NXE. */
export const PTE_NX_HI = 1 << 31;

/** Physical-address bits the simulated host implements (CPUID 0x80000008 EAX[7:0]). */
export const PADDR_BITS = 46;
/** Address bits 12..31 of an entry (low half). */
export const PTE_ADDR_MASK_LO = 0xfffff000;
/** Address bits 32..(PADDR_BITS-1) of an entry (high half). */
export const PTE_ADDR_MASK_HI = (1 << (PADDR_BITS - 32)) - 1;
/** Must-be-zero address bits PADDR_BITS..51 (high half); set → reserved-bit fault. */
export const PTE_RSVD_HI = ((1 << (52 - 32)) - 1) & ~PTE_ADDR_MASK_HI;
/** Must-be-zero bits 13..20 of a 2 MiB leaf (low half). */
export const PTE_RSVD_2M_LO = 0x001fe000;
/** Must-be-zero bits 13..29 of a 1 GiB leaf (low half). */
export const PTE_RSVD_1G_LO = 0x3fffe000;
/** Address bits 21..31 of a 2 MiB leaf (low half). */
export const PTE_ADDR_2M_LO = 0xffe00000;
/** Address bits 30..31 of a 1 GiB leaf (low half). */
export const PTE_ADDR_1G_LO = 0xc0000000;

/** Page-table levels of 4-level paging, leaf to root. */
export const PT_LEVELS = 4;
/** Linear-address bit where each level's 9-bit index starts: L1 12, L2 21, L3 30, L4 39. */
export const PT_LEVEL_SHIFT = [0, 12, 21, 30, 39] as const;
/** Bits of a canonical linear address (4-level paging). */
export const VADDR_BITS = 48;

/** Page-fault error code (pushed with #PF, vector 14): the fault was a protection violation (page present). */
export const PFEC_PRESENT = 1 << 0;
/** Page-fault error code: the access was a write. */
export const PFEC_WRITE = 1 << 1;
/** Page-fault error code: the access was made in user mode (CPL 3). */
export const PFEC_USER = 1 << 2;
/** Page-fault error code: a reserved bit was set in a paging-structure entry. */
export const PFEC_RSVD = 1 << 3;
/** Page-fault error code: the access was an instruction fetch. */
export const PFEC_INSN = 1 << 4;
/** The #PF vector. */
export const TRAP_page_fault = 14;

/** CR0.WP: supervisor writes honour read-only pages. */
export const X86_CR0_WP = 1 << 16;
/** CR0.PG: paging enabled. */
export const X86_CR0_PG = 1 << 31;
/** CR4.PGE: global pages enabled. */
export const X86_CR4_PGE = 1 << 7;
/** EFER.NXE: the NX bit is honoured (otherwise it is reserved). */
export const X86_EFER_NXE = 1 << 11;

/** EPT entry: read access. */
export const EPT_R = 1 << 0;
/** EPT entry: write access. */
export const EPT_W = 1 << 1;
/** EPT entry: execute access. */
export const EPT_X = 1 << 2;
/** EPT entry: all three access bits; an entry with none of them is not present. */
export const EPT_RWX = EPT_R | EPT_W | EPT_X;
/** EPT leaf: memory type, bits 3..5. */
export const EPT_MT_SHIFT = 3;
export const EPT_MT_MASK = 7 << EPT_MT_SHIFT;
/** EPT leaf: ignore the guest's PAT. */
export const EPT_IGMT = 1 << 6;
/** EPT entry: large page (2 MiB at L2, 1 GiB at L3). */
export const EPT_PS = 1 << 7;
/** EPT entry: accessed (only when EPTP enables A/D). */
export const EPT_A = 1 << 8;
/** EPT entry: dirty (leaf; only when EPTP enables A/D). */
export const EPT_D = 1 << 9;
/** Xen keeps the p2m type in software-available bits 52..57 (`sa_p2mt`): bits 20..25 of the high half. */
export const EPT_P2MT_SHIFT_HI = 20;
export const EPT_P2MT_MASK_HI = 0x3f << EPT_P2MT_SHIFT_HI;

/** EPT memory types (also used in the EPTP). */
export const EPT_MT_UC = 0;
export const EPT_MT_WC = 1;
export const EPT_MT_WT = 4;
export const EPT_MT_WP = 5;
export const EPT_MT_WB = 6;
/** EPTP: page-walk length minus one, bits 3..5 (3 for 4 levels). */
export const EPTP_WALK_LENGTH_SHIFT = 3;
/** EPTP: accessed/dirty flags enabled. */
export const EPTP_AD = 1 << 6;
