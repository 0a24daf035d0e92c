/** VCPUOP_initialise: decodes and checks a PV vcpu_guest_context or an HVM/PVH vcpu_hvm_context and loads it into a register file. */
import { GuestError } from '../api/errors.js';
import { CpuUserRegs, PV_MAX_GDT_ENTRIES, PV_MAX_LDT_ENTRIES, VCPU_HVM_MODE, VCPU_HVM_SEGMENTS, VGCF, VcpuGuestContext, VcpuHvmContext, VcpuHvmX86_32, VcpuHvmX86_64 } from '../public/vcpu.js';
import { MSR, type SegmentRegister, type VcpuContext } from './vcpu-context.js';
import type { PvGuestExtras } from './sched-state.js';

const X86_CR0_PG = 0x8000_0000;
const X86_CR4_PAE = 0x20;
const EFER_SCE = 1 << 0;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
const EFER_NXE = 1 << 11;
const RFLAGS_IF = 1 << 9;
const RFLAGS_IOPL = 3 << 12;
/** The long-mode state Xen runs a 64-bit PV vCPU in: PG|AM|WP|NE|ET|MP|PE, PAE|PGE, LME|LMA|NXE|SCE. */
const PV_CR0 = 0x8005_0033;
const PV_CR4 = 0xa0;
const PV_EFER = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
/** `SYS_DESC_tss_busy`. */
const TSS_BUSY = 11;

/** The 64-bit general-purpose registers of vcpu_hvm_x86_64 / the first eight of cpu_user_regs, in encoding order. */
const GPRS_8 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'] as const;

function fail(domid: number, detail: string): never {
  throw new GuestError('EINVAL', `VCPUOP_initialise: ${detail}`, { domid });
}

/** A u64 as a register value: sign-extended, so upper-half canonical addresses stay exact. */
function u64(view: DataView, at: number): number {
  return Number(BigInt.asIntN(64, view.getBigUint64(at, true)));
}

function canonical(view: DataView, at: number): boolean {
  const v = BigInt.asIntN(64, view.getBigUint64(at, true));
  return v === BigInt.asIntN(48, v);
}

/** Compact `_ar` (avl 8, l 9, db 10, g 11) to the register file's VMX layout (avl 12, l 13, db 14, g 15). */
function arToVmx(ar: number): number {
  return (ar & 0xff) | ((ar & 0xf00) << 4);
}

/** Xen's `check_segment` for a 32-bit vcpu_hvm_context. */
function checkSegment(domid: number, seg: (typeof VCPU_HVM_SEGMENTS)[number], ar: number): void {
  if ((ar & 0xf000) !== 0) fail(domid, `${seg}: attribute bits 12-15 are not zero`);
  if (ar === 0) {
    if (seg !== 'ds' && seg !== 'es') fail(domid, `null selector provided for ${seg}`);
    return;
  }
  const type = ar & 0xf;
  const s = (ar & 0x10) !== 0;
  if (seg === 'tr') {
    if (s) fail(domid, 'code or data segment provided for TR');
    if (type !== TSS_BUSY) fail(domid, 'non-32-bit-TSS segment provided for TR');
  } else if (!s) fail(domid, `system segment provided for ${seg}`);
  if ((ar & 0x80) === 0) fail(domid, `non-present segment provided for ${seg}`);
  if (seg === 'cs' && (type & 0x8) === 0) fail(domid, 'non-code segment provided for CS');
  if (seg === 'ss' && ((type & 0x8) !== 0 || (type & 0x2) === 0)) fail(domid, 'non-writeable segment provided for SS');
  if ((seg === 'ds' || seg === 'es') && (type & 0x8) !== 0 && (type & 0x2) === 0) fail(domid, `non-readable segment provided for ${seg}`);
}

function setSegment(reg: SegmentRegister, selector: number, base: number, limit: number, attributes: number): void {
  reg.selector = selector;
  reg.base = base;
  reg.limit = limit;
  reg.attributes = attributes;
}

/**
 * Loads a PV `vcpu_guest_context` (Xen's `arch_set_info_guest`, 64-bit): canonical addresses, LDT/GDT
 * sizes, a user page table when not in kernel mode, and a CR3 frame the domain owns (`ownsFrame`),
 * else −EINVAL. The vCPU runs in long mode with paging on its CR3 (ctrlreg[3] = L4 mfn << 12).
 */
export function loadPvContext(domid: number, bytes: Uint8Array, regs: VcpuContext, ownsFrame: (mfn: number) => boolean): PvGuestExtras {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const C = VcpuGuestContext;
  const R = C.userRegs;
  const flags = u64(view, C.flags);
  for (const at of [R + CpuUserRegs.rip, R + CpuUserRegs.rsp, C.kernelSp, C.fsBase, C.gsBaseKernel, C.gsBaseUser, C.eventCallbackEip, C.syscallCallbackEip, C.failsafeCallbackEip]) {
    if (!canonical(view, at)) fail(domid, `non-canonical address at offset ${at} of vcpu_guest_context`);
  }
  for (let i = 0; i < 256; i++) if (!canonical(view, C.trapCtxt + i * 16 + 8)) fail(domid, `trap_ctxt[${i}] has a non-canonical address`);
  const ldtEnts = u64(view, C.ldtEnts);
  if (ldtEnts !== 0 && !canonical(view, C.ldtBase)) fail(domid, 'non-canonical ldt_base');
  if (ldtEnts < 0 || ldtEnts > PV_MAX_LDT_ENTRIES) fail(domid, `ldt_ents ${ldtEnts} > ${PV_MAX_LDT_ENTRIES}`);
  const gdtEnts = u64(view, C.gdtEnts);
  if (gdtEnts < 0 || gdtEnts > PV_MAX_GDT_ENTRIES) fail(domid, `gdt_ents ${gdtEnts} > ${PV_MAX_GDT_ENTRIES}`);
  const userCr3 = u64(view, C.ctrlreg + 8);
  if ((flags & VGCF.in_kernel) === 0 && userCr3 === 0) fail(domid, 'a context not in kernel mode needs a user page table (ctrlreg[1])');
  const cr3 = u64(view, C.ctrlreg + 3 * 8);
  const l4 = Math.floor(cr3 / 4096);
  if (cr3 < 0 || !ownsFrame(l4)) fail(domid, `CR3 frame 0x${l4.toString(16)} is not a page of the domain`);

  regs.r15 = u64(view, R + CpuUserRegs.r15);
  regs.r14 = u64(view, R + CpuUserRegs.r14);
  regs.r13 = u64(view, R + CpuUserRegs.r13);
  regs.r12 = u64(view, R + CpuUserRegs.r12);
  regs.rbp = u64(view, R + CpuUserRegs.rbp);
  regs.rbx = u64(view, R + CpuUserRegs.rbx);
  regs.r11 = u64(view, R + CpuUserRegs.r11);
  regs.r10 = u64(view, R + CpuUserRegs.r10);
  regs.r9 = u64(view, R + CpuUserRegs.r9);
  regs.r8 = u64(view, R + CpuUserRegs.r8);
  regs.rax = u64(view, R + CpuUserRegs.rax);
  regs.rcx = u64(view, R + CpuUserRegs.rcx);
  regs.rdx = u64(view, R + CpuUserRegs.rdx);
  regs.rsi = u64(view, R + CpuUserRegs.rsi);
  regs.rdi = u64(view, R + CpuUserRegs.rdi);
  regs.rip = u64(view, R + CpuUserRegs.rip);
  regs.rsp = u64(view, R + CpuUserRegs.rsp);
  // Xen forces IF on and IOPL off in a PV guest's flags.
  regs.rflags = ((u64(view, R + CpuUserRegs.rflags) & 0x3f_7fd7 & ~RFLAGS_IOPL) | RFLAGS_IF | 0x2) >>> 0;
  for (const seg of ['cs', 'ss', 'es', 'ds', 'fs', 'gs'] as const) regs[seg].selector = view.getUint16(R + CpuUserRegs[seg], true);
  regs.cr0 = PV_CR0;
  regs.cr3 = cr3;
  regs.cr4 = PV_CR4;
  regs.efer = PV_EFER;
  const fsBase = u64(view, C.fsBase);
  const gsKernel = u64(view, C.gsBaseKernel);
  regs.fs.base = fsBase;
  regs.gs.base = gsKernel;
  regs.writeMsr(MSR.IA32_FS_BASE, fsBase);
  regs.writeMsr(MSR.IA32_GS_BASE, gsKernel);
  regs.writeMsr(MSR.IA32_KERNEL_GS_BASE, u64(view, C.gsBaseUser));
  return {
    flags,
    kernelSs: u64(view, C.kernelSs),
    kernelSp: u64(view, C.kernelSp),
    ldtBase: u64(view, C.ldtBase),
    ldtEnts,
    gdtFrames: Array.from({ length: 16 }, (_, i) => u64(view, C.gdtFrames + i * 8)),
    gdtEnts,
    eventCallbackEip: u64(view, C.eventCallbackEip),
    failsafeCallbackEip: u64(view, C.failsafeCallbackEip),
    syscallCallbackEip: u64(view, C.syscallCallbackEip),
    vmAssist: u64(view, C.vmAssist),
    userCr3,
  };
}

/**
 * Loads an HVM/PVH `vcpu_hvm_context` (Xen's `arch_set_info_hvm_guest`): 32-bit mode takes the given
 * segments after Xen's `check_segment`; 64-bit mode needs CR0.PG, CR4.PAE, EFER.LME and a canonical
 * RIP, and gets flat long-mode segments. With paging on, CR3 must be a RAM page of the domain (`isRamGfn`).
 */
export function loadHvmContext(domid: number, bytes: Uint8Array, regs: VcpuContext, isRamGfn: (gfn: number) => boolean): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mode = view.getUint32(VcpuHvmContext.mode, true);
  const base = VcpuHvmContext.cpuRegs;
  if (mode === VCPU_HVM_MODE['32B']) {
    const S = VcpuHvmX86_32;
    const ars = VCPU_HVM_SEGMENTS.map((_, i) => view.getUint16(base + S.ar + i * 2, true));
    VCPU_HVM_SEGMENTS.forEach((seg, i) => checkSegment(domid, seg, ars[i]!));
    const cr0 = view.getUint32(base + S.cr0, true);
    const cr3 = view.getUint32(base + S.cr3, true);
    if ((cr0 & X86_CR0_PG) !== 0 && !isRamGfn(Math.floor(cr3 / 4096))) fail(domid, `CR3 0x${cr3.toString(16)} is not a RAM page of the domain`);
    GPRS_8.forEach((name, i) => (regs[name] = view.getUint32(base + S.gprs + i * 4, true)));
    regs.rip = view.getUint32(base + S.eip, true);
    regs.rflags = (view.getUint32(base + S.eflags, true) | 0x2) >>> 0;
    regs.cr0 = cr0;
    regs.cr3 = cr3;
    regs.cr4 = view.getUint32(base + S.cr4, true);
    regs.efer = u64(view, base + S.efer);
    VCPU_HVM_SEGMENTS.forEach((seg, i) => {
      const b = view.getUint32(base + S.base + i * 4, true);
      const l = view.getUint32(base + S.limit + i * 4, true);
      setSegment(regs[seg], 0, b, l, arToVmx(ars[i]!));
    });
    return;
  }
  if (mode !== VCPU_HVM_MODE['64B']) fail(domid, `unknown vcpu_hvm_context mode ${mode}`);
  const S = VcpuHvmX86_64;
  if (!canonical(view, base + S.rip)) fail(domid, 'RIP contains a non-canonical address');
  const cr0 = u64(view, base + S.cr0);
  const cr4 = u64(view, base + S.cr4);
  const efer = u64(view, base + S.efer);
  if ((cr0 & X86_CR0_PG) === 0) fail(domid, "CR0 doesn't have paging enabled");
  if ((cr4 & X86_CR4_PAE) === 0) fail(domid, "CR4 doesn't have PAE enabled");
  if ((efer & EFER_LME) === 0) fail(domid, "EFER doesn't have LME enabled");
  const cr3 = u64(view, base + S.cr3);
  if (cr3 < 0 || !isRamGfn(Math.floor(cr3 / 4096))) fail(domid, `CR3 0x${cr3.toString(16)} is not a RAM page of the domain`);
  GPRS_8.forEach((name, i) => (regs[name] = u64(view, base + S.gprs + i * 8)));
  regs.rip = u64(view, base + S.rip);
  regs.rflags = (u64(view, base + S.rflags) | 0x2) >>> 0;
  regs.cr0 = cr0 >>> 0;
  regs.cr3 = cr3;
  regs.cr4 = cr4;
  regs.efer = (efer | EFER_LMA) >>> 0;
  setSegment(regs.cs, 0, 0, 0xffff_ffff, arToVmx(0xa9b));
  for (const seg of ['ds', 'ss', 'es'] as const) setSegment(regs[seg], 0, 0, 0xffff_ffff, arToVmx(0xc93));
  setSegment(regs.tr, 0, 0, 0x67, arToVmx(0x8b));
}
