/** CPUID as a Xen guest sees it: basic leaves 0/1 with the hypervisor bit, and Xen's leaves 0x40000000..+5 (xen/arch/x86/cpuid.c). */
import type { CpuidResult } from '../api/platform.js';
import type { GuestMode } from '../api/domain.js';
import { PAGE_SHIFT } from '../public/memory.js';
import { XEN_MAJOR, XEN_MINOR } from '../public/xen.js';
import {
  X86_CPUID1_ECX_HYPERVISOR,
  XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD,
  XEN_CPUID_FIRST_LEAF,
  XEN_CPUID_MAX_NUM_LEAVES,
  XEN_CPUID_SIGNATURE_EBX,
  XEN_CPUID_SIGNATURE_ECX,
  XEN_CPUID_SIGNATURE_EDX,
  XEN_HVM_CPUID,
  XEN_HYPERCALL_MSR,
} from '../public/platform.js';

/** What a CPUID answer depends on. */
export interface CpuidInput {
  readonly domid: number;
  readonly vcpu: number;
  readonly mode: GuestMode;
  /** The host's TSC frequency in kHz (leaf base+3). */
  readonly tscKhz: number;
  /** The host's machine frames in all (leaf base+5: the machine address width). */
  readonly hostFrames: number;
}

const ZERO: CpuidResult = Object.freeze({ eax: 0, ebx: 0, ecx: 0, edx: 0 });

/** "GenuineIntel": we present a VMX (Intel) host. */
const VENDOR_EBX = 0x756e_6547;
const VENDOR_EDX = 0x4965_6e69;
const VENDOR_ECX = 0x6c65_746e;
/** Highest basic leaf we answer. */
const MAX_BASIC_LEAF = 1;
/** Family 6, model 0x55, stepping 7 (a Cascade Lake server). */
const LEAF1_EAX = 0x0005_0657;
/** CPUID.1:EDX: FPU TSC MSR PAE CX8 APIC SEP PGE CMOV PAT CLFSH FXSR SSE SSE2. */
const LEAF1_EDX = 0x0709_ab71;
const EDX_APIC = 1 << 9;
/** CPUID.1:ECX: SSE3 SSSE3 CX16 SSE4.1 SSE4.2 POPCNT. */
const LEAF1_ECX = 0x0098_2201;

/** Xen's base+3 sub-leaf 0 EAX: bit 0 vtsc (off), bit 1 the host TSC is safe (invariant), bit 2 RDTSCP. */
const TSC_FLAGS = (1 << 1) | (1 << 2);
/** TSC_MODE_DEFAULT. */
const TSC_MODE = 0;

/**
 * Xen's `set_time_scale`: the `mul_frac` (u32) and `shift` (i8) with ns = ((ticks << shift) × mul_frac) >> 32
 * (a negative shift shifts right), for a counter of `khz`.
 */
export function timeScale(khz: number): { mulFrac: number; shift: number } {
  let tps = BigInt(khz) * 1000n;
  let shift = 0;
  while (tps > 2_000_000_000n) {
    tps >>= 1n;
    shift--;
  }
  let tps32 = Number(tps);
  while (tps32 <= 1_000_000_000) {
    tps32 *= 2;
    shift++;
  }
  return { mulFrac: Number((1_000_000_000n << 32n) / BigInt(tps32)), shift };
}

/** `flsl`: 1-based index of the highest set bit, 0 for 0. */
function fls(value: number): number {
  return value <= 0 ? 0 : value.toString(2).length;
}

function isHvmLike(mode: GuestMode): boolean {
  return mode !== 'pv';
}

/** Xen's `cpuid_hypervisor_leaves` for `leaf` = base + idx (base 0x40000000: we do not emulate Viridian). */
function hypervisorLeaf(input: CpuidInput, idx: number, subleaf: number): CpuidResult {
  if (idx > XEN_CPUID_MAX_NUM_LEAVES) return ZERO;
  switch (idx) {
    case 0:
      return { eax: XEN_CPUID_FIRST_LEAF + XEN_CPUID_MAX_NUM_LEAVES, ebx: XEN_CPUID_SIGNATURE_EBX, ecx: XEN_CPUID_SIGNATURE_ECX, edx: XEN_CPUID_SIGNATURE_EDX };
    case 1:
      return { eax: ((XEN_MAJOR << 16) | XEN_MINOR) >>> 0, ebx: 0, ecx: 0, edx: 0 };
    case 2:
      return { eax: 1, ebx: XEN_HYPERCALL_MSR, ecx: isHvmLike(input.mode) ? 0 : XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD, edx: 0 };
    case 3:
      return timeLeaf(input, subleaf);
    case 4: {
      if (!isHvmLike(input.mode) || subleaf !== 0) return ZERO;
      const eax = XEN_HVM_CPUID.VCPU_ID_PRESENT | XEN_HVM_CPUID.DOMID_PRESENT | XEN_HVM_CPUID.UPCALL_VECTOR;
      return { eax, ebx: input.vcpu >>> 0, ecx: input.domid >>> 0, edx: 0 };
    }
    default: {
      if (isHvmLike(input.mode) || subleaf !== 0) return ZERO;
      return { eax: 0, ebx: fls(input.hostFrames - 1) + PAGE_SHIFT, ecx: 0, edx: 0 };
    }
  }
}

/** base+3: TSC mode and scale. The guest TSC runs at the host's frequency with offset 0 (no vtsc). */
function timeLeaf(input: CpuidInput, subleaf: number): CpuidResult {
  switch (subleaf) {
    case 0:
      return { eax: TSC_FLAGS, ebx: TSC_MODE, ecx: input.tscKhz >>> 0, edx: 0 };
    case 1: {
      const { mulFrac, shift } = timeScale(input.tscKhz);
      return { eax: 0, ebx: 0, ecx: mulFrac >>> 0, edx: shift >>> 0 };
    }
    case 2:
      return { eax: input.tscKhz >>> 0, ebx: 0, ecx: 0, edx: 0 };
    default:
      return ZERO;
  }
}

/**
 * The CPUID answer for one vCPU. Leaf 1 EBX[31:24] is the initial APIC id: vCPU × 2 for HVM/PVH (Xen's
 * vLAPIC numbering), 0 for PV, which has no virtual APIC (and so no APIC bit). Unlisted leaves are zero.
 */
export function guestCpuid(input: CpuidInput, leaf: number, subleaf: number): CpuidResult {
  const l = leaf >>> 0;
  if (l >= XEN_CPUID_FIRST_LEAF && l < XEN_CPUID_FIRST_LEAF + 0x100) return hypervisorLeaf(input, l - XEN_CPUID_FIRST_LEAF, subleaf >>> 0);
  if (l === 0) return { eax: MAX_BASIC_LEAF, ebx: VENDOR_EBX, ecx: VENDOR_ECX, edx: VENDOR_EDX };
  if (l === 1) {
    const hvm = isHvmLike(input.mode);
    const apicId = hvm ? (input.vcpu * 2) & 0xff : 0;
    const ebx = ((apicId << 24) | (0x08 << 8)) >>> 0;
    return { eax: LEAF1_EAX, ebx, ecx: (LEAF1_ECX | X86_CPUID1_ECX_HYPERVISOR) >>> 0, edx: hvm ? LEAF1_EDX : LEAF1_EDX & ~EDX_APIC };
  }
  return ZERO;
}
