/** Local APIC and IO-APIC architectural constants (Intel SDM vol. 3A ch. 11, 82093AA datasheet) and the interrupt message. */

/** xAPIC register offsets in the 4 KiB MMIO page (Xen's `APIC_*` names). */
export const APIC_ID = 0x20;
export const APIC_LVR = 0x30;
export const APIC_TASKPRI = 0x80;
export const APIC_ARBPRI = 0x90;
export const APIC_PROCPRI = 0xa0;
export const APIC_EOI = 0xb0;
export const APIC_LDR = 0xd0;
export const APIC_DFR = 0xe0;
export const APIC_SPIV = 0xf0;
export const APIC_ISR = 0x100;
export const APIC_TMR = 0x180;
export const APIC_IRR = 0x200;
export const APIC_ESR = 0x280;
export const APIC_CMCI = 0x2f0;
export const APIC_ICR = 0x300;
export const APIC_ICR2 = 0x310;
export const APIC_LVTT = 0x320;
export const APIC_LVTTHMR = 0x330;
export const APIC_LVTPC = 0x340;
export const APIC_LVT0 = 0x350;
export const APIC_LVT1 = 0x360;
export const APIC_LVTERR = 0x370;
export const APIC_TMICT = 0x380;
export const APIC_TMCCT = 0x390;
export const APIC_TDCR = 0x3e0;
/** x2APIC only: the SELF IPI register (MSR 0x83F). */
export const APIC_SELF_IPI = 0x3f0;

/** Default physical base of the local APIC page (IA32_APIC_BASE[51:12]). */
export const APIC_DEFAULT_PHYS_BASE = 0xfee0_0000;
/** The IA32_APIC_BASE MSR and its flag bits. */
export const MSR_IA32_APICBASE = 0x1b;
export const APIC_BASE_BSP = 1 << 8;
export const APIC_BASE_EXTD = 1 << 10;
export const APIC_BASE_ENABLE = 1 << 11;
/** x2APIC registers are MSRs `0x800 + offset/16`. */
export const MSR_X2APIC_FIRST = 0x800;
export const MSR_X2APIC_LAST = 0x8ff;
/** IA32_TSC_DEADLINE, armed when the LVT timer is in TSC-deadline mode. */
export const MSR_IA32_TSC_DEADLINE = 0x6e0;

/** Version register: version 0x14 (integrated APIC), six LVT entries (max LVT index 5). */
export const APIC_VERSION = 0x0005_0014;

/** SVR bits. */
export const APIC_SPIV_APIC_ENABLED = 1 << 8;
export const APIC_SPIV_FOCUS_DISABLED = 1 << 9;

/** LVT bits. */
export const APIC_LVT_MASKED = 1 << 16;
export const APIC_LVT_DELIVERY_STATUS = 1 << 12;
export const APIC_LVT_REMOTE_IRR = 1 << 14;
export const APIC_LVT_LEVEL_TRIGGER = 1 << 15;
export const APIC_LVT_TIMER_MODE_SHIFT = 17;
/** Writable bits of each LVT register. */
export const LVT_TIMER_MASK = 0x0007_00ff;
export const LVT_LINT_MASK = 0x0001_a7ff;
export const LVT_THERMAL_MASK = 0x0001_07ff;
export const LVT_ERROR_MASK = 0x0001_00ff;

/** LVT timer modes (bits 18:17). */
export const TimerMode = {
  OneShot: 0,
  Periodic: 1,
  TscDeadline: 2,
} as const;
export type TimerMode = (typeof TimerMode)[keyof typeof TimerMode];

/** ESR bits (SDM 11.5.3). */
export const APIC_ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const APIC_ESR_RECV_ILLEGAL_VECTOR = 1 << 6;
export const APIC_ESR_ILLEGAL_REGISTER = 1 << 7;

/** ICR low fields. */
export const APIC_ICR_DEST_LOGICAL = 1 << 11;
export const APIC_ICR_BUSY = 1 << 12;
export const APIC_ICR_LEVEL_ASSERT = 1 << 14;
export const APIC_ICR_LEVEL_TRIGGER = 1 << 15;
export const APIC_ICR_SHORTHAND_SHIFT = 18;
/** Writable bits of ICR low (the delivery-status bit is read-only). */
export const APIC_ICR_WRITE_MASK = 0x000c_cfff;

/** Delivery modes of LVT entries, ICR, redirection entries and MSI data (bits 10:8). */
export const DeliveryMode = {
  Fixed: 0,
  LowestPriority: 1,
  Smi: 2,
  Nmi: 4,
  Init: 5,
  StartUp: 6,
  ExtInt: 7,
} as const;
export type DeliveryMode = (typeof DeliveryMode)[keyof typeof DeliveryMode];

/** The ICR's destination shorthand (bits 19:18). */
export const DestShorthand = {
  None: 0,
  Self: 1,
  AllIncludingSelf: 2,
  AllExcludingSelf: 3,
} as const;
export type DestShorthand = (typeof DestShorthand)[keyof typeof DestShorthand];

/** DFR models (bits 31:28). */
export const APIC_DFR_FLAT = 0xf;
export const APIC_DFR_CLUSTER = 0x0;

/** Broadcast destination in xAPIC (8-bit) and x2APIC (32-bit) formats. */
export const APIC_BROADCAST = 0xff;
export const X2APIC_BROADCAST = 0xffff_ffff;

/** Vectors 0..15 are reserved for exceptions; an interrupt there is an illegal vector. */
export const FIRST_LEGAL_VECTOR = 16;

/**
 * An interrupt message on the APIC bus: an IPI from an ICR, an IO-APIC redirection or an MSI.
 * `dest` is 8 bits wide unless `x2apic` (32 bits, x2APIC ICR only).
 */
export interface InterruptMessage {
  vector: number;
  deliveryMode: DeliveryMode;
  /** Logical (true) or physical (false) destination mode. */
  logical: boolean;
  dest: number;
  /** Level-triggered (the accepting APIC sets TMR and broadcasts EOI for it). */
  level: boolean;
  /** For INIT: false means INIT level de-assert, which modern CPUs ignore. Default true. */
  assert?: boolean;
  shorthand?: DestShorthand;
  /** The destination uses x2APIC's 32-bit format. */
  x2apic?: boolean;
}

/** The IPI an ICR write sends: `low` is ICR[31:0], `high` ICR[63:32] (xAPIC destination in bits 31:24, x2APIC all 32). */
export function decodeIcr(low: number, high: number, x2apic: boolean): InterruptMessage {
  const level = (low & APIC_ICR_LEVEL_TRIGGER) !== 0;
  return {
    vector: low & 0xff,
    deliveryMode: ((low >>> 8) & 7) as DeliveryMode,
    logical: (low & APIC_ICR_DEST_LOGICAL) !== 0,
    dest: x2apic ? high >>> 0 : high >>> 24,
    level,
    assert: !level || (low & APIC_ICR_LEVEL_ASSERT) !== 0,
    shorthand: ((low >>> APIC_ICR_SHORTHAND_SHIFT) & 3) as DestShorthand,
    x2apic,
  };
}
