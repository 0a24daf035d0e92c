/** Hypervisor and boot-protocol detection: CPUID's Xen leaves, then the start-info magic in RBX or RSI. */
import type { VcpuApi } from '../../../../core/api/index.js';
import { HVM_START_MAGIC, HvmStartInfo, PV_START_INFO_MAGIC, PvStartInfo } from '../../../../core/public/index.js';
import { xenPvhInitOps } from './pvh.js';
import { xenPvInitOps } from './pv.js';
import type { XenInitOps } from './init-ops.js';

/** "XenVMMXenVMM" in EBX, ECX, EDX. */
const XEN_SIGNATURE = [0x566e6558, 0x65584d4d, 0x4d4d566e] as const;
const CPUID_BASE_FIRST = 0x4000_0000;
const CPUID_BASE_LAST = 0x4001_0000;

/** What CPUID says about the hypervisor. */
export interface HypervisorId {
  /** The base leaf Xen answered at (0x40000000, or 0x40000100 beside viridian). */
  readonly base: number;
  readonly origin: string;
  /** Highest Xen leaf. */
  readonly maxLeaf: number;
}

function signature(ebx: number, ecx: number, edx: number): string {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, ebx >>> 0, true);
  view.setUint32(4, ecx >>> 0, true);
  view.setUint32(8, edx >>> 0, true);
  return new TextDecoder('latin1').decode(bytes);
}

/** Scans the hypervisor leaves in 0x100 steps, as guests do; undefined when Xen is not there. */
export function detectXen(v: VcpuApi): HypervisorId | undefined {
  for (let base = CPUID_BASE_FIRST; base < CPUID_BASE_LAST; base += 0x100) {
    const r = v.cpuid(base);
    if (r.ebx >>> 0 === XEN_SIGNATURE[0] && r.ecx >>> 0 === XEN_SIGNATURE[1] && r.edx >>> 0 === XEN_SIGNATURE[2]) {
      return { base, origin: signature(r.ebx, r.ecx, r.edx), maxLeaf: r.eax >>> 0 };
    }
  }
  return undefined;
}

/** Reads a u32 of guest memory, or undefined where there is none. */
function peekU32(v: VcpuApi, addr: number): number | undefined {
  try {
    return v.memory.readU32(addr);
  } catch {
    return undefined;
  }
}

function peekMagic(v: VcpuApi, addr: number, magic: string): boolean {
  try {
    const bytes = v.memory.read(addr + PvStartInfo.magic, magic.length + 1);
    return new TextDecoder('latin1').decode(bytes.subarray(0, magic.length)) === magic && bytes[magic.length] === 0;
  } catch {
    return false;
  }
}

/** How we were started: the init ops to use and the start-info address, or why none fits. */
export function detectBootProtocol(v: VcpuApi): { ops: XenInitOps; startInfo: number } | { error: string } {
  const rbx = v.regs.rbx;
  if (peekU32(v, rbx + HvmStartInfo.magic) === HVM_START_MAGIC) return { ops: xenPvhInitOps, startInfo: rbx };
  const rsi = v.regs.rsi;
  if (peekMagic(v, rsi, PV_START_INFO_MAGIC)) return { ops: xenPvInitOps, startInfo: rsi };
  return { error: `no hvm_start_info at RBX (0x${rbx.toString(16)}) and no start_info at RSI (0x${rsi.toString(16)})` };
}
