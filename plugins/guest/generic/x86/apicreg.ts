/**
 * Local APIC and IO-APIC register layouts as the driver sees them (FreeBSD's x86/include/apicreg.h,
 * the Intel SDM vol. 3A ch. 11 and the 82093AA datasheet). The kernel keeps its own copy: a guest
 * knows the hardware from its datasheet, not from the simulator.
 */

/** Where the firmware leaves the local APIC page (IA32_APIC_BASE). */
export const DEFAULT_APIC_BASE = 0xfee0_0000;
/** Where the first IO-APIC's registers are. */
export const DEFAULT_IOAPIC_BASE = 0xfec0_0000;

/** xAPIC register offsets in the local APIC page. */
export const LAPIC = {
  ID: 0x20,
  VERSION: 0x30,
  TPR: 0x80,
  EOI: 0xb0,
  SVR: 0xf0,
  ESR: 0x280,
  ICR_LO: 0x300,
  ICR_HI: 0x310,
  LVT_TIMER: 0x320,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
  LVT_ERROR: 0x370,
  ICR_TIMER: 0x380,
  CCR_TIMER: 0x390,
  DCR_TIMER: 0x3e0,
} as const;

/** SVR: software enable. */
export const APIC_SVR_SWEN = 0x100;
/** LVT mask bit. */
export const APIC_LVT_M = 0x1_0000;
/** LVT timer modes (bits 18:17). */
export const APIC_LVTT_TM_ONE_SHOT = 0x0_0000;
export const APIC_LVTT_TM_PERIODIC = 0x2_0000;
/** Timer divide configuration: divide by 2 (FreeBSD's APIC_TDCR_2). */
export const APIC_TDCR_2 = 0x0;

/** ICR low word fields. */
export const APIC_DELMODE_FIXED = 0x000;
export const APIC_DELMODE_INIT = 0x500;
export const APIC_DELMODE_STARTUP = 0x600;
export const APIC_DELSTAT_PEND = 0x1000;
export const APIC_LEVEL_ASSERT = 0x4000;
export const APIC_LEVEL_DEASSERT = 0x0000;
export const APIC_TRIGMOD_LEVEL = 0x8000;
export const APIC_DEST_SELF = 0x4_0000;
export const APIC_DEST_ALLESELF = 0xc_0000;
/** The destination APIC ID lives in bits 31:24 of ICR_HI. */
export const APIC_ID_SHIFT = 24;

/** IO-APIC: the index register and the data window. */
export const IOAPIC_REGSEL = 0x00;
export const IOAPIC_WINDOW = 0x10;
/** IO-APIC register indexes. */
export const IOAPIC_ID = 0x00;
export const IOAPIC_VER = 0x01;
/** Redirection entry `pin`: low word at 0x10 + 2·pin, high word after it. */
export const IOAPIC_REDTBL = 0x10;
/** Redirection entry low-word bits. */
export const IOART_INTMASK = 0x1_0000;
export const IOART_TRGRLVL = 0x8000;
export const IOART_INTALO = 0x2000;
export const IOART_DELFIXED = 0x000;
/** The maximum redirection entry is in bits 23:16 of the version register. */
export const IOART_VER_MAXREDIR_SHIFT = 16;
