/**
 * The fixed ACPI hardware of Xen's HVM platform (xen/include/public/hvm/ioreq.h, the V1 layout that
 * hvmloader's FADT describes) and the PM1 register bits of the ACPI specification (§4.8.3), shared by
 * the `acpi-pm` device model and the reference kernel's `acpi0` driver. Also the PIIX3 reset control
 * register at port 0xCF9.
 */

/** ACPI_PM1A_EVT_BLK_ADDRESS_V1: PM1_STS (u16) then PM1_EN (u16). */
export const ACPI_PM1A_EVT_BLK_ADDRESS = 0xb000;
export const ACPI_PM1A_EVT_BLK_LEN = 4;
/** ACPI_PM1A_CNT_BLK_ADDRESS_V1: PM1_CNT (u16). */
export const ACPI_PM1A_CNT_BLK_ADDRESS = ACPI_PM1A_EVT_BLK_ADDRESS + 0x04;
export const ACPI_PM1A_CNT_BLK_LEN = 2;
/** ACPI_PM_TMR_BLK_ADDRESS_V1: the power-management timer (u32, 24 bits significant). */
export const ACPI_PM_TMR_BLK_ADDRESS = ACPI_PM1A_EVT_BLK_ADDRESS + 0x08;
export const ACPI_PM_TMR_BLK_LEN = 4;
/** ACPI_GPE0_BLK_ADDRESS_V1: GPE0_STS (u16) then GPE0_EN (u16). */
export const ACPI_GPE0_BLK_ADDRESS = 0xafe0;
export const ACPI_GPE0_BLK_LEN = 4;
/** The SCI's ISA IRQ (the FADT's SCI_INT in Xen's tables). */
export const ACPI_SCI_IRQ = 9;
/** The PM timer's frequency, Hz. */
export const ACPI_PM_TIMER_FREQUENCY = 3_579_545;
/** The PM timer's counter width (TMR_VAL_EXT clear: 24 bits). */
export const ACPI_PM_TIMER_MASK = 0xff_ffff;

/** PM1_STS / PM1_EN bits (status bits are write-one-to-clear; an enable bit sits at the same position). */
export const ACPI_PM1 = {
  TMR: 1 << 0,
  BM: 1 << 4,
  GBL: 1 << 5,
  PWRBTN: 1 << 8,
  SLPBTN: 1 << 9,
  RTC: 1 << 10,
  WAK: 1 << 15,
} as const;

/** PM1_CNT bits. */
export const ACPI_PM1_CNT = {
  SCI_EN: 1 << 0,
  SLP_TYP_SHIFT: 10,
  SLP_TYP_MASK: 7 << 10,
  SLP_EN: 1 << 13,
} as const;

/** SLP_TYP values of the sleep states in Xen's DSDT (tools/libacpi: \_S3 = 5, \_S4 = 6, \_S5 = 7). */
export const ACPI_SLP_TYP = { S3: 5, S4: 6, S5: 7 } as const;

/** The PIIX3 reset control register (RCR): a byte at 0xCF9 inside the PCI host bridge's 0xCF8-0xCFF window. */
export const RCR_IOPORT = 0xcf9;
/** RCR bits: SYS_RST selects a hard reset, RST_CPU resets the machine when written as one. */
export const RCR = { SYS_RST: 1 << 1, RST_CPU: 1 << 2 } as const;
