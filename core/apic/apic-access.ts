/** The two ways software reaches a local APIC's registers: the xAPIC MMIO page and the x2APIC MSRs. */
import type { MmioHandler } from '../api/io.js';
import {
  APIC_CMCI, APIC_EOI, APIC_ESR, APIC_ICR, APIC_ID, APIC_IRR, APIC_ISR, APIC_LDR,
  APIC_LVR, APIC_LVT0, APIC_LVT1, APIC_LVTERR, APIC_LVTPC, APIC_LVTT, APIC_LVTTHMR, APIC_PROCPRI, APIC_SELF_IPI,
  APIC_SPIV, APIC_TASKPRI, APIC_TDCR, APIC_TMCCT, APIC_TMICT, APIC_TMR, APIC_ICR_SHORTHAND_SHIFT, DestShorthand,
  MSR_IA32_APICBASE, MSR_IA32_TSC_DEADLINE, MSR_X2APIC_FIRST, MSR_X2APIC_LAST,
} from './apic-defs.js';
import type { LocalApic } from './local-apic.js';

/** An MMIO read of 1, 2 or 4 bytes at `offset` in the APIC page; bytes 4..15 of each register slot read 0. */
export function apicMmioRead(apic: LocalApic, offset: number, size: number): number {
  const within = offset & 0xf;
  if (within >= 4) return 0;
  const value = apic.readRegister(offset & 0xff0) >>> (within * 8);
  return size >= 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1);
}

/** An MMIO write. Narrow writes are merged into the register, as Xen does for guests that make them. */
export function apicMmioWrite(apic: LocalApic, offset: number, size: number, value: number): void {
  const within = offset & 0xf;
  const reg = offset & 0xff0;
  if (within >= 4) return;
  if (size >= 4 && within === 0) {
    apic.writeRegister(reg, value);
    return;
  }
  const shift = within * 8;
  const mask = (size >= 4 ? 0xffff_ffff : (1 << (size * 8)) - 1) << shift;
  apic.writeRegister(reg, ((apic.readRegister(reg) & ~mask) | ((value << shift) & mask)) >>> 0);
}

/** The APIC page as an MMIO handler. */
export function apicMmioHandler(apic: LocalApic): MmioHandler {
  return {
    read: (offset, size) => apicMmioRead(apic, offset, size),
    write: (offset, size, value) => apicMmioWrite(apic, offset, size, value),
  };
}

const banks = (first: number) => Array.from({ length: 8 }, (_, i) => first + 0x10 * i);
const LVTS = [APIC_CMCI, APIC_LVTT, APIC_LVTTHMR, APIC_LVTPC, APIC_LVT0, APIC_LVT1, APIC_LVTERR];
/** Offsets readable through x2APIC MSRs (no APR, DFR or ICR2; EOI and SELF IPI are write-only). */
const X2APIC_READABLE = new Set([
  APIC_ID, APIC_LVR, APIC_TASKPRI, APIC_PROCPRI, APIC_LDR, APIC_SPIV, ...banks(APIC_ISR), ...banks(APIC_TMR), ...banks(APIC_IRR),
  APIC_ESR, APIC_ICR, ...LVTS, APIC_TMICT, APIC_TMCCT, APIC_TDCR,
]);
const X2APIC_WRITABLE = new Set([APIC_TASKPRI, APIC_EOI, APIC_SPIV, APIC_ESR, APIC_ICR, ...LVTS, APIC_TMICT, APIC_TDCR, APIC_SELF_IPI]);

const hex = (msr: number) => `0x${msr.toString(16)}`;

/** RDMSR of an APIC MSR. Anything else, or an x2APIC register outside x2APIC mode, is a #GP. */
export function readApicMsr(apic: LocalApic, msr: number): bigint {
  if (msr === MSR_IA32_APICBASE) return BigInt(apic.apicBase);
  if (msr === MSR_IA32_TSC_DEADLINE) return apic.timer.tscDeadline;
  const offset = x2apicOffset(apic, msr, 'rdmsr');
  if (!X2APIC_READABLE.has(offset)) throw apic.gp(`rdmsr ${hex(msr)}: not a readable x2APIC register`);
  if (offset === APIC_ICR) return apic.icrValue();
  return BigInt(apic.readRegister(offset));
}

/** WRMSR of an APIC MSR. Anything else, or an x2APIC register outside x2APIC mode, is a #GP. */
export function writeApicMsr(apic: LocalApic, msr: number, value: bigint): void {
  if (msr === MSR_IA32_APICBASE) {
    apic.apicBase = Number(BigInt.asUintN(52, value));
    return;
  }
  if (msr === MSR_IA32_TSC_DEADLINE) {
    apic.timer.setTscDeadline(value);
    return;
  }
  const offset = x2apicOffset(apic, msr, 'wrmsr');
  if (!X2APIC_WRITABLE.has(offset)) throw apic.gp(`wrmsr ${hex(msr)}: not a writable x2APIC register`);
  const low = Number(BigInt.asUintN(32, value));
  switch (offset) {
    case APIC_ICR:
      apic.writeIcr(low, Number(BigInt.asUintN(32, value >> 32n)));
      return;
    case APIC_SELF_IPI:
      apic.writeIcr((low & 0xff) | (DestShorthand.Self << APIC_ICR_SHORTHAND_SHIFT), 0);
      return;
    case APIC_EOI:
      if (value !== 0n) throw apic.gp(`wrmsr ${hex(msr)}: EOI takes 0, got ${value}`);
      apic.eoi();
      return;
    default:
      apic.writeRegister(offset, low);
  }
}

function x2apicOffset(apic: LocalApic, msr: number, op: string): number {
  if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST) throw apic.gp(`${op} ${hex(msr)}: not an APIC MSR`);
  if (!apic.x2apicMode) throw apic.gp(`${op} ${hex(msr)}: x2APIC mode is off`);
  return (msr - MSR_X2APIC_FIRST) << 4;
}
