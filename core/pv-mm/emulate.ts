/**
 * Trap-and-emulate of a PV vCPU's privileged instructions and I/O (Xen's x86/pv/emul-priv-op.c): each
 * costs `trapEmulate`, is counted in the domain's stats and recorded as a `TraceKind.Trap`.
 */
import { GuestError, HardwareError } from '../api/errors.js';
import type { PrivilegedInstruction } from '../api/domain.js';
import type { VcpuImpl } from '../cpu/index.js';
import { TraceKind } from '../engine/trace.js';
import { PAGE_SIZE } from '../public/memory.js';
import type { PvMmImpl } from './pv-mm.js';

/** Trace field `a` of a trap: the instruction (I/O accesses are 0x100 | size, +0x10 for MMIO, +0x20 for a write). */
export const TRAP_CODE: Readonly<Record<PrivilegedInstruction, number>> = {
  'read-cr0': 1,
  'write-cr0': 2,
  'read-cr3': 3,
  'write-cr3': 4,
  'read-cr4': 5,
  'write-cr4': 6,
  invlpg: 7,
  wbinvd: 8,
  cli: 9,
  sti: 10,
  lidt: 11,
  lgdt: 12,
};

/** CR0.TS: the only CR0 bit a PV guest may change (write_cr: "Attempt to change unmodifiable CR0 flags"). */
const X86_CR0_TS = 1 << 3;
/** CR4 bits a PV guest controls (pv_fixup_guest_cr4): TSD, DE, OSFXSR, OSXMMEXCPT, FSGSBASE, OSXSAVE. Writes to others are dropped. */
const PV_CR4_GUEST_MASK = (1 << 2) | (1 << 3) | (1 << 9) | (1 << 10) | (1 << 16) | (1 << 18);
/** RFLAGS.IOPL, bits 12..13. */
const X86_EFLAGS_IOPL_SHIFT = 12;

function trap(mm: PvMmImpl, domid: number, vcpu: number, code: number, operand: number): void {
  const { engine, domains } = mm.ctx;
  const v = domains.lookup(domid).vcpus[vcpu];
  if (v === undefined) throw new HardwareError('pv-mm', `pv-mm: dom${domid} has no vcpu${vcpu}`, { domid });
  (v as VcpuImpl).charge(engine.cost.trapEmulate);
  mm.statsOf(domid).traps++;
  engine.trace.record(engine.now, TraceKind.Trap, domid, vcpu, code, operand);
}

function gp(domid: number, vcpu: number, why: string): HardwareError {
  return new HardwareError('gp', `vcpu${vcpu}: #GP: ${why}`, { domid });
}

/**
 * pv_emulate_privileged_op. read-cr0/cr3/cr4 give the register file's value (CR3 as Xen shows a
 * 64-bit PV guest: the machine address of its L4, xen_pfn_to_cr3); write-cr0 may change only TS;
 * write-cr3 is new_guest_cr3 (a table that does not validate is #GP); write-cr4 keeps only the bits a
 * PV guest controls; wbinvd is done (ignored without cache-flush rights, as Xen does). cli/sti follow
 * validate(): #GP unless the shadowed IOPL allows a guest kernel (CPL 1) them, and then nothing more —
 * Xen deliberately leaves the upcall mask alone ("too dangerous to allow"); the vCPU's IOPL is read
 * from RFLAGS. invlpg flushes the one translation (Xen itself rejects INVLPG from a PV guest with #GP
 * and expects MMUEXT_INVLPG_LOCAL; kept for guest code written for both). lidt/lgdt are #GP.
 */
export function emulatePrivileged(mm: PvMmImpl, domid: number, vcpu: number, insn: PrivilegedInstruction, operand: number): number {
  const code = TRAP_CODE[insn];
  if (code === undefined) throw gp(domid, vcpu, `unknown privileged instruction "${String(insn)}"`);
  trap(mm, domid, vcpu, code, operand);
  const regs = mm.ctx.domains.lookup(domid).vcpus[vcpu]!.context;
  switch (insn) {
    case 'read-cr0':
      return regs.cr0 >>> 0;
    case 'read-cr3':
      return regs.cr3;
    case 'read-cr4':
      return regs.cr4 >>> 0;
    case 'write-cr0':
      if (((operand ^ regs.cr0) & ~X86_CR0_TS) !== 0) throw gp(domid, vcpu, `attempt to change unmodifiable CR0 flags (0x${(regs.cr0 >>> 0).toString(16)} -> 0x${(operand >>> 0).toString(16)})`);
      regs.cr0 = (regs.cr0 & ~X86_CR0_TS) | (operand & X86_CR0_TS);
      return 0;
    case 'write-cr3':
      try {
        mm.newGuestCr3(domid, vcpu, Math.floor(operand / PAGE_SIZE));
      } catch (error) {
        if (!(error instanceof GuestError)) throw error;
        mm.refused(domid, 'write-cr3', error);
        throw gp(domid, vcpu, `bad new CR3 0x${operand.toString(16)}: ${error.detail}`);
      }
      return 0;
    case 'write-cr4':
      regs.cr4 = ((regs.cr4 & ~PV_CR4_GUEST_MASK) | (operand & PV_CR4_GUEST_MASK)) >>> 0;
      return 0;
    case 'invlpg':
      mm.flush(domid, [vcpu], operand);
      return 0;
    case 'wbinvd':
      return 0;
    case 'cli':
    case 'sti':
      if (((regs.rflags >>> X86_EFLAGS_IOPL_SHIFT) & 3) < 1) throw gp(domid, vcpu, `${insn} with IOPL 0`);
      return 0;
    case 'lidt':
    case 'lgdt':
      throw gp(domid, vcpu, `${insn} is not emulated for PV guests (they use set_trap_table / set_gdt)`);
  }
}

/**
 * read_io / write_io (and the MMIO equivalent) for a PV vCPU: nothing is passed through, as for a
 * domain without I/O capabilities (guest_io_read gives all ones, guest_io_write drops). Dom0's ports
 * are not modelled either: it gets all ones too, but every access is counted.
 */
export function emulateIo(mm: PvMmImpl, domid: number, vcpu: number, space: 'pio' | 'mmio', addr: number, size: number, write: boolean, _value: number): number {
  if (![1, 2, 4, 8].includes(size) || (space === 'pio' && size === 8)) throw gp(domid, vcpu, `${space} access of ${size} bytes at 0x${addr.toString(16)}`);
  trap(mm, domid, vcpu, 0x100 | size | (space === 'mmio' ? 0x10 : 0) | (write ? 0x20 : 0), addr);
  if (write) return 0;
  return size === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * size) - 1;
}
