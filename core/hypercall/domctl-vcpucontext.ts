/**
 * XEN_DOMCTL_get/setvcpucontext: the register file (core/cpu/vcpu-context.ts) ↔ `vcpu_guest_context`.
 * Carried: the GPRs, rip, rflags, the six selectors, CR0/CR2/CR3/CR4 (ctrlreg[0,2,3,4]), the FS/GS bases
 * and VGCF_online / VGCF_in_kernel. Left out (zero on get, ignored on set): the FPU block, trap table,
 * LDT/GDT, kernel_ss/sp, debug registers, the PV callbacks and vm_assist — they live outside the register file.
 */
import type { Domain, Vcpu } from '../api/domain.js';
import type { HypercallContext } from '../api/hypercall.js';
import { GuestError } from '../api/errors.js';
import { MSR, type VcpuContext } from '../cpu/vcpu-context.js';
import { CpuUserRegs, VGCF, VcpuGuestContext } from '../public/vcpu.js';

const GPRS = ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi', 'rip', 'rsp'] as const;
const SELECTORS = ['cs', 'ss', 'es', 'ds', 'fs', 'gs'] as const;
const CR_INDEXES = [0, 2, 3, 4] as const;
const RFLAGS_IF = 1 << 9;
const RFLAGS_IOPL = 3 << 12;
/** The rflags bits a guest may hold (Xen's X86_EFLAGS_* mask as loadPvContext uses it). */
const RFLAGS_MASK = 0x3f_7fd7;

// --- helpers --------------------------------------------------------------------------------------

/** A u64 as a register value: sign-extended, so upper-half canonical addresses stay exact (as VCPUOP_initialise reads them). */
function reg(view: DataView, at: number): bigint {
  return BigInt.asIntN(64, view.getBigUint64(at, true));
}

function canonical(v: bigint): boolean {
  return v === BigInt.asIntN(48, v);
}

function vcpuOf(caller: HypercallContext, d: Domain, vcpu: number): Vcpu {
  const v = d.vcpus[vcpu];
  if (v === undefined) throw new GuestError('EINVAL', `domctl: dom${d.domid} has no vcpu ${vcpu}`, { domid: caller.domid });
  return v;
}

// --- operations -----------------------------------------------------------------------------------

/** Encodes `v`'s register file as a vcpu_guest_context (5168 bytes). */
export function encodeVcpuContext(d: Domain, v: Vcpu): Uint8Array {
  const bytes = new Uint8Array(VcpuGuestContext.size);
  const view = new DataView(bytes.buffer);
  const regs = v.context;
  const R = VcpuGuestContext.userRegs;
  const kernel = d.mode === 'pv' && (regs.cs.selector & 3) !== 3;
  view.setBigUint64(VcpuGuestContext.flags, BigInt((v.isUp ? VGCF.online : 0) | (kernel ? VGCF.in_kernel : 0)), true);
  for (const name of GPRS) view.setBigInt64(R + CpuUserRegs[name], BigInt(regs[name]), true);
  view.setBigUint64(R + CpuUserRegs.rflags, BigInt(regs.rflags), true);
  for (const seg of SELECTORS) view.setUint16(R + CpuUserRegs[seg], regs[seg].selector, true);
  const crs = { 0: regs.cr0, 2: regs.cr2, 3: regs.cr3, 4: regs.cr4 };
  for (const i of CR_INDEXES) view.setBigInt64(VcpuGuestContext.ctrlreg + i * 8, BigInt(crs[i]), true);
  view.setBigInt64(VcpuGuestContext.fsBase, BigInt(regs.readMsr(MSR.IA32_FS_BASE)), true);
  view.setBigInt64(VcpuGuestContext.gsBaseKernel, BigInt(regs.readMsr(MSR.IA32_GS_BASE)), true);
  view.setBigInt64(VcpuGuestContext.gsBaseUser, BigInt(regs.readMsr(MSR.IA32_KERNEL_GS_BASE)), true);
  return bytes;
}

/**
 * Checks a vcpu_guest_context and loads it into `regs`, all or nothing (EINVAL): canonical rip/rsp and
 * bases; for PV a CR3 frame the domain owns (`ownsFrame`) — PV keeps its CR0/CR4 and gets IF forced on
 * and IOPL off, as Xen's arch_set_info_guest does; for HVM/PVH CR0 and CR4 must fit 32 bits.
 */
export function decodeVcpuContext(caller: HypercallContext, d: Domain, bytes: Uint8Array, regs: VcpuContext, ownsFrame: (mfn: number) => boolean): { online: boolean } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const R = VcpuGuestContext.userRegs;
  const bad = (detail: string): GuestError => new GuestError('EINVAL', `setvcpucontext: ${detail}`, { domid: caller.domid });
  const values = new Map<string, bigint>();
  for (const name of GPRS) values.set(name, reg(view, R + CpuUserRegs[name]));
  for (const at of [R + CpuUserRegs.rip, R + CpuUserRegs.rsp, VcpuGuestContext.fsBase, VcpuGuestContext.gsBaseKernel, VcpuGuestContext.gsBaseUser]) {
    if (!canonical(reg(view, at))) throw bad(`non-canonical address at offset ${at}`);
  }
  const cr = CR_INDEXES.map((i) => view.getBigUint64(VcpuGuestContext.ctrlreg + i * 8, true));
  if (cr.some((v) => v > BigInt(Number.MAX_SAFE_INTEGER))) throw bad('a control register is beyond 2^53');
  const [cr0, cr2, cr3, cr4] = cr.map(Number) as [number, number, number, number];
  const pv = d.mode === 'pv';
  if (pv && !ownsFrame(Math.floor(cr3 / 4096))) throw bad(`CR3 frame 0x${Math.floor(cr3 / 4096).toString(16)} is not a page of dom${d.domid}`);
  if (!pv && (cr0 > 0xffffffff || cr4 > 0xffffffff)) throw bad('CR0/CR4 above 32 bits');

  for (const name of GPRS) regs[name] = Number(values.get(name)!);
  const rflags = Number(view.getBigUint64(R + CpuUserRegs.rflags, true) & 0xffffffffn);
  regs.rflags = pv ? ((rflags & RFLAGS_MASK & ~RFLAGS_IOPL) | RFLAGS_IF | 0x2) >>> 0 : (rflags | 0x2) >>> 0;
  for (const seg of SELECTORS) regs[seg].selector = view.getUint16(R + CpuUserRegs[seg], true);
  if (!pv) {
    regs.cr0 = cr0;
    regs.cr4 = cr4;
  }
  regs.cr2 = cr2;
  regs.cr3 = cr3;
  const fsBase = Number(reg(view, VcpuGuestContext.fsBase));
  const gsBase = Number(reg(view, VcpuGuestContext.gsBaseKernel));
  regs.fs.base = fsBase;
  regs.gs.base = gsBase;
  regs.writeMsr(MSR.IA32_FS_BASE, fsBase);
  regs.writeMsr(MSR.IA32_GS_BASE, gsBase);
  regs.writeMsr(MSR.IA32_KERNEL_GS_BASE, Number(reg(view, VcpuGuestContext.gsBaseUser)));
  return { online: (Number(view.getBigUint64(VcpuGuestContext.flags, true) & 0xffn) & VGCF.online) !== 0 };
}

/** XEN_DOMCTL_getvcpucontext: writes vCPU `vcpu`'s context at `ctxt` in the caller's memory. */
export function getVcpuContext(caller: HypercallContext, d: Domain, vcpu: number, ctxt: number): void {
  caller.guest.write(ctxt, encodeVcpuContext(d, vcpuOf(caller, d, vcpu)));
}

/**
 * XEN_DOMCTL_setvcpucontext: loads the context at `ctxt` into vCPU `vcpu` with the domain paused, then
 * brings the vCPU up or down by VGCF_online. A null `ctxt` resets the vCPU (registers to their RESET
 * state, vCPU down). Not on oneself (EINVAL).
 */
export function setVcpuContext(caller: HypercallContext, d: Domain, vcpu: number, ctxt: number, pause: (on: boolean) => void, ownsFrame: (mfn: number) => boolean): void {
  if (d.domid === caller.domid) throw new GuestError('EINVAL', 'setvcpucontext on oneself', { domid: caller.domid });
  const v = vcpuOf(caller, d, vcpu);
  if (ctxt === 0) {
    v.context.reset();
    v.down();
    return;
  }
  const bytes = caller.guest.read(ctxt, VcpuGuestContext.size);
  pause(true);
  try {
    const { online } = decodeVcpuContext(caller, d, bytes, v.context, ownsFrame);
    if (online) v.up();
    else v.down();
  } finally {
    pause(false);
  }
}
