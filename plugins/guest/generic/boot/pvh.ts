/** PVH boot (FreeBSD's x86/xen/pv.c `xen_pvh_init_ops`): hvm_start_info in RBX, rings named by HVM params. */
import type { VcpuApi } from '../../../../core/api/index.js';
import {
  HVM_MEMMAP_ENTRY_SIZE,
  HVM_PARAM,
  HVM_START_INFO_SIZE,
  HvmStartInfo,
  MAX_GUEST_CMDLINE,
  MEMMAP_TYPE,
  PAGE_SIZE,
  XENMAPSPACE,
} from '../../../../core/public/index.js';
import { cString, type Hypervisor } from '../dev/xen/hypervisor.js';
import { framesOf, type FrameRange } from '../kern/vm_phys.js';
import type { Preload, RingLocation, XenInitOps } from './init-ops.js';

const MEMMAP_NAMES: Record<number, string> = { 1: 'RAM', 2: 'RESERVED', 3: 'ACPI', 4: 'NVS', 5: 'UNUSABLE', 6: 'DISABLED', 7: 'PMEM' };
const HVM_MODLIST_ENTRY_SIZE = 32;

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function parsePreloadData(v: VcpuApi, startInfo: number): Preload {
  const m = v.memory;
  const version = m.readU32(startInfo + HvmStartInfo.version);
  const cmdlinePaddr = m.readU64(startInfo + HvmStartInfo.cmdlinePaddr);
  const cmdline = cmdlinePaddr === 0 ? '' : cString(m.read(cmdlinePaddr, MAX_GUEST_CMDLINE));
  const notes = [`xen_pvh: hvm_start_info v${version} at ${hex(startInfo)}`];
  const reserved: FrameRange[] = [framesOf(startInfo, HVM_START_INFO_SIZE)];
  if (cmdlinePaddr !== 0) reserved.push(framesOf(cmdlinePaddr, cmdline.length + 1));
  const nrModules = m.readU32(startInfo + HvmStartInfo.nrModules);
  const modlist = m.readU64(startInfo + HvmStartInfo.modlistPaddr);
  if (nrModules > 0 && modlist !== 0) {
    reserved.push(framesOf(modlist, nrModules * HVM_MODLIST_ENTRY_SIZE));
    for (let i = 0; i < nrModules; i++) reserved.push(framesOf(m.readU64(modlist + i * HVM_MODLIST_ENTRY_SIZE), m.readU64(modlist + i * HVM_MODLIST_ENTRY_SIZE + 8)));
  }
  const ram: FrameRange[] = [];
  const memmap = version >= 1 ? m.readU64(startInfo + HvmStartInfo.memmapPaddr) : 0;
  const entries = version >= 1 ? m.readU32(startInfo + HvmStartInfo.memmapEntries) : 0;
  if (memmap !== 0 && entries > 0) {
    reserved.push(framesOf(memmap, entries * HVM_MEMMAP_ENTRY_SIZE));
    notes.push('xen_pvh: memory map:');
    for (let i = 0; i < entries; i++) {
      const at = memmap + i * HVM_MEMMAP_ENTRY_SIZE;
      const addr = m.readU64(at);
      const size = m.readU64(at + 8);
      const type = m.readU32(at + 16);
      notes.push(`  ${hex(addr).padStart(12)} - ${hex(addr + size - 1).padStart(12)} ${MEMMAP_NAMES[type] ?? `type ${type}`}`);
      if (type === MEMMAP_TYPE.ram) ram.push({ start: Math.ceil(addr / PAGE_SIZE), end: Math.floor((addr + size) / PAGE_SIZE) });
    }
  } else {
    notes.push('xen_pvh: no memory map (hvm_start_info v0)');
  }
  return { startInfo, cmdline, ram, reserved, notes };
}

function ring(hv: Hypervisor, pfnParam: number, portParam: number): RingLocation {
  const frame = Number(hv.hvmGetParam(pfnParam));
  return { addr: frame * PAGE_SIZE, frame, port: Number(hv.hvmGetParam(portParam)) };
}

export const xenPvhInitOps: XenInitOps = {
  name: 'xen_pvh_init_ops',
  mode: 'pvh',
  hooks: {
    parse_preload_data: 'xen_pvh_parse_preload_data',
    parse_memmap: 'xen_pvh_parse_memmap',
    find_rings: 'xen_hvm_param_rings',
    shared_info: 'xen_hvm_init_shared_info_page',
  },
  parsePreloadData,
  findRings(_v, hv) {
    return {
      store: ring(hv, HVM_PARAM.STORE_PFN, HVM_PARAM.STORE_EVTCHN),
      console: ring(hv, HVM_PARAM.CONSOLE_PFN, HVM_PARAM.CONSOLE_EVTCHN),
    };
  },
  mapSharedInfo(_v, hv, allocate) {
    const frame = allocate();
    hv.addToPhysmap(XENMAPSPACE.shared_info, 0, frame);
    return { addr: frame * PAGE_SIZE };
  },
};
