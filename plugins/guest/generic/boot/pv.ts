/**
 * PV boot (`xen_pv_init_ops`): start_info in RSI. The rings are machine frames, turned into our own
 * frame numbers through the P2M list. With the builder's initial page tables (CR0.PG set) the
 * pseudo-physical space is mapped 1:1 at virtual address 0, and the shared-info page, a machine frame,
 * is mapped at a free frame's address with update_va_mapping; with paging off it is out of reach.
 */
import type { VcpuApi } from '../../../../core/api/index.js';
import { MAX_GUEST_CMDLINE, PAGE_SIZE, PTE_P, PTE_RW, PV_START_INFO_SIZE, PvStartInfo, SIF, UVMF, X86_CR0_PG } from '../../../../core/public/index.js';
import { cString } from '../dev/xen/hypervisor.js';
import { framesOf, type FrameRange } from '../kern/vm_phys.js';
import type { Preload, RingLocation, XenInitOps } from './init-ops.js';

/** The pseudo-physical frame holding machine frame `mfn`, from the P2M list at `list`. */
export function mfnToPfn(v: VcpuApi, list: number, nrPages: number, mfn: number): number {
  const bytes = v.memory.read(list, nrPages * 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let pfn = 0; pfn < nrPages; pfn++) if (Number(view.getBigUint64(pfn * 8, true)) === mfn) return pfn;
  throw new Error(`xen_pv: machine frame 0x${mfn.toString(16)} is not in the P2M list`);
}

function pvRing(v: VcpuApi, si: number, mfnField: number, portField: number): RingLocation {
  const list = v.memory.readU64(si + PvStartInfo.mfnList);
  const nrPages = v.memory.readU64(si + PvStartInfo.nrPages);
  const frame = mfnToPfn(v, list, nrPages, v.memory.readU64(si + mfnField));
  return { addr: frame * PAGE_SIZE, frame, port: v.memory.readU32(si + portField) };
}

function parsePreloadData(v: VcpuApi, si: number): Preload {
  const m = v.memory;
  const nrPages = m.readU64(si + PvStartInfo.nrPages);
  const flags = m.readU32(si + PvStartInfo.flags);
  const cmdline = cString(m.read(si + PvStartInfo.cmdLine, MAX_GUEST_CMDLINE));
  const list = m.readU64(si + PvStartInfo.mfnList);
  const reserved: FrameRange[] = [framesOf(si, PV_START_INFO_SIZE), framesOf(list, nrPages * 8)];
  for (const [mfn, port] of [[PvStartInfo.storeMfn, PvStartInfo.storeEvtchn], [PvStartInfo.consoleMfn, PvStartInfo.consoleEvtchn]] as const) {
    const r = pvRing(v, si, mfn, port);
    reserved.push({ start: r.frame, end: r.frame + 1 });
  }
  const ptBase = m.readU64(si + PvStartInfo.ptBase);
  const ptFrames = m.readU64(si + PvStartInfo.nrPtFrames);
  if (ptFrames > 0) reserved.push(framesOf(ptBase, ptFrames * PAGE_SIZE));
  const notes = [
    `xen_pv: start_info at 0x${si.toString(16)}: ${nrPages} pages, flags 0x${flags.toString(16)}${flags & SIF.initdomain ? ' (initial domain)' : ''}`,
    `xen_pv: P2M list at 0x${list.toString(16)}, shared info at machine address 0x${m.readU64(si + PvStartInfo.sharedInfo).toString(16)}`,
  ];
  return { startInfo: si, cmdline, ram: [{ start: 0, end: nrPages }], reserved, notes };
}

export const xenPvInitOps: XenInitOps = {
  name: 'xen_pv_init_ops',
  mode: 'pv',
  hooks: {
    parse_preload_data: 'xen_pv_parse_preload_data',
    parse_memmap: 'xen_pv_parse_memmap',
    find_rings: 'xen_pv_start_info_rings',
    shared_info: 'xen_pv_map_shared_info (update_va_mapping; none while paging is off)',
  },
  parsePreloadData,
  findRings(v, _hv, preload) {
    return {
      store: pvRing(v, preload.startInfo, PvStartInfo.storeMfn, PvStartInfo.storeEvtchn),
      console: pvRing(v, preload.startInfo, PvStartInfo.consoleMfn, PvStartInfo.consoleEvtchn),
    };
  },
  mapSharedInfo(v, hv, allocate) {
    if ((v.regs.cr0 & X86_CR0_PG) === 0) return { unavailable: 'a PV guest maps it through its page tables, and paging is off' };
    // The start_info pointer the builder left in RSI (see detectBootProtocol).
    const maddr = v.memory.readU64(v.regs.rsi + PvStartInfo.sharedInfo);
    const addr = allocate() * PAGE_SIZE;
    hv.updateVaMapping(addr, maddr + (PTE_P | PTE_RW), UVMF.INVLPG | UVMF.LOCAL);
    return { addr };
  },
};
