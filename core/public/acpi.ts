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

/*
 * The tables hvmloader builds (tools/libacpi/acpi2_0.h, ACPI 2.0+ §5.2), byte offsets of each
 * little-endian, packed structure. The firmware writes them and the reference kernel reads them.
 */

/** Where hvmloader (ROMBIOS layout) puts its ACPI tables: ACPI_PHYSICAL_ADDRESS, inside the BIOS scan area. */
export const ACPI_PHYSICAL_ADDRESS = 0xea000;
/** The RSDP: 16-byte aligned in 0xE0000–0xFFFFF, where an OS scans for it (ACPI §5.2.5.1). */
export const ACPI_RSDP_ADDRESS = ACPI_PHYSICAL_ADDRESS + 0x20;
/** The BIOS area an OS scans for "RSD PTR " on 16-byte boundaries. */
export const ACPI_RSDP_SCAN = { start: 0xe0000, end: 0x10_0000 } as const;
/** The end of the room the tables may use: the BIOS region the E820 map reserves begins here. */
export const ACPI_TABLES_END = 0xf0000;

/** The RSDP (struct acpi_20_rsdp): the first 20 bytes are ACPI 1.0's, checksummed on their own. */
export const AcpiRsdp = {
  size: 36,
  /** "RSD PTR ". */
  signature: 0,
  /** Makes the first 20 bytes sum to zero. */
  checksum: 8,
  oemId: 9,
  /** 2 for ACPI 2.0+ (an XSDT exists). */
  revision: 15,
  rsdtAddress: 16,
  v1Size: 20,
  length: 20,
  /** u64. */
  xsdtAddress: 24,
  /** Makes all 36 bytes sum to zero. */
  extendedChecksum: 32,
} as const;
export const ACPI_RSDP_SIGNATURE = 'RSD PTR ';

/** The header every system description table starts with (struct acpi_header). */
export const AcpiHeader = {
  size: 36,
  signature: 0,
  /** The whole table's length, header included. */
  length: 4,
  revision: 8,
  /** Makes the whole table sum to zero. */
  checksum: 9,
  oemId: 10,
  oemTableId: 16,
  oemRevision: 24,
  creatorId: 28,
  creatorRevision: 32,
} as const;

/** hvmloader's identification: OEM "Xen", table "HVM", creator "HVML" (padded with NULs, as strncpy leaves them). */
export const ACPI_OEM_ID = 'Xen';
export const ACPI_OEM_TABLE_ID = 'HVM';
export const ACPI_CREATOR_ID = 'HVML';

/** Table signatures. */
export const ACPI_SIG = { RSDT: 'RSDT', XSDT: 'XSDT', FADT: 'FACP', FACS: 'FACS', DSDT: 'DSDT', MADT: 'APIC' } as const;

/** Table revisions hvmloader writes. */
export const ACPI_REVISION = { RSDT: 1, XSDT: 1, MADT: 2, FADT: 4, DSDT: 2, RSDP: 2, FACS: 1 } as const;

/** The ACPI 2.0 Generic Address Structure (12 bytes). */
export const AcpiGas = { size: 12, spaceId: 0, bitWidth: 1, bitOffset: 2, accessSize: 3, address: 4 } as const;
/** GAS address space IDs. */
export const ACPI_ADR_SPACE = { SYSTEM_MEMORY: 0, SYSTEM_IO: 1 } as const;

/** The FADT (struct acpi_fadt up to x_gpe1_blk: revision 4, 244 bytes). */
export const AcpiFadt = {
  size: 244,
  firmwareCtrl: 36,
  dsdt: 40,
  preferredPmProfile: 45,
  /** u16. */
  sciInt: 46,
  smiCmd: 48,
  pm1aEvtBlk: 56,
  pm1bEvtBlk: 60,
  pm1aCntBlk: 64,
  pm1bCntBlk: 68,
  pm2CntBlk: 72,
  pmTmrBlk: 76,
  gpe0Blk: 80,
  gpe1Blk: 84,
  pm1EvtLen: 88,
  pm1CntLen: 89,
  pm2CntLen: 90,
  pmTmrLen: 91,
  gpe0BlkLen: 92,
  gpe1BlkLen: 93,
  /** u16 each. */
  pLvl2Lat: 96,
  pLvl3Lat: 98,
  /** u16. */
  iapcBootArch: 109,
  flags: 112,
  resetReg: 116,
  resetValue: 128,
  /** u64 each. */
  xFirmwareCtrl: 132,
  xDsdt: 140,
  xPm1aEvtBlk: 148,
  xPm1bEvtBlk: 160,
  xPm1aCntBlk: 172,
  xPm1bCntBlk: 184,
  xPm2CntBlk: 196,
  xPmTmrBlk: 208,
  xGpe0Blk: 220,
  xGpe1Blk: 232,
} as const;

/** FADT fixed feature flags hvmloader sets. */
export const ACPI_FADT_FLAG = { WBINVD: 1 << 0, PROC_C1: 1 << 2, PWR_BUTTON: 1 << 4, SLP_BUTTON: 1 << 5, FIX_RTC: 1 << 6, TMR_VAL_EXT: 1 << 8, RESET_REG_SUP: 1 << 10, USE_PLATFORM_CLOCK: 1 << 15 } as const;

/** The FACS (struct acpi_20_facs, 64 bytes, 64-byte aligned). */
export const AcpiFacs = { size: 64, signature: 0, length: 4, hardwareSignature: 8, wakingVector: 12, globalLock: 16, flags: 20, xWakingVector: 24, version: 32 } as const;

/** The MADT after its header: the local APIC address and flags, then variable-length entries. */
export const AcpiMadt = { size: 44, lapicAddress: 36, flags: 40 } as const;
/** MADT flags: PCAT_COMPAT (dual 8259s present). */
export const ACPI_MADT_PCAT_COMPAT = 1;

/** MADT entry types (every entry starts with type, length). */
export const ACPI_MADT_TYPE = { LOCAL_APIC: 0, IO_APIC: 1, INTERRUPT_OVERRIDE: 2 } as const;
/** Processor Local APIC entry (8 bytes). */
export const AcpiMadtLapic = { size: 8, type: 0, length: 1, processorId: 2, apicId: 3, flags: 4 } as const;
/** Local APIC flags: the processor is usable. */
export const ACPI_MADT_LAPIC_ENABLED = 1;
/** IO-APIC entry (12 bytes). */
export const AcpiMadtIoApic = { size: 12, type: 0, length: 1, ioApicId: 2, address: 4, gsiBase: 8 } as const;
/** Interrupt Source Override entry (10 bytes): ISA `source` arrives on `gsi` with MPS INTI `flags`. */
export const AcpiMadtOverride = { size: 10, type: 0, length: 1, bus: 2, source: 3, gsi: 4, flags: 8 } as const;
/** MPS INTI flags: polarity bits 1:0 (1 high, 3 low), trigger bits 3:2 (1 edge, 3 level); 0 = bus default. */
export const ACPI_MADT_INTI = { CONFORMS: 0, ACTIVE_HIGH: 1, ACTIVE_LOW: 3, EDGE: 1 << 2, LEVEL: 3 << 2 } as const;

/** hvmloader's PCI_ISA_IRQ_MASK: ISA IRQs 5, 10 and 11 are PCI-connected (level, active low). */
export const ACPI_PCI_ISA_IRQ_MASK = 0x0c20;
/** hvmloader's LAPIC_ID(vcpu): the APIC ID Xen's vlapic_reset gives vCPU `vcpu`. */
export const hvmLapicId = (vcpu: number): number => vcpu * 2;
/** hvmloader's IOAPIC_ID and the address the IO-APIC decodes. */
export const HVM_IOAPIC_ID = 1;
export const HVM_IOAPIC_ADDRESS = 0xfec0_0000;
export const HVM_LAPIC_ADDRESS = 0xfee0_0000;
