/**
 * The early-boot hooks of one boot protocol (FreeBSD's `struct init_ops`, x86/include/init.h): the
 * kernel picks `xen_pvh_init_ops` or `xen_pv_init_ops` once it knows how it was started.
 */
import type { VcpuApi } from '../../../../core/api/index.js';
import type { Hypervisor } from '../dev/xen/hypervisor.js';
import type { FrameRange } from '../kern/vm_phys.js';

/** What the boot structures say (before any hypercall). */
export interface Preload {
  /** Guest address of hvm_start_info / start_info. */
  readonly startInfo: number;
  readonly cmdline: string;
  /** Usable RAM frames. */
  readonly ram: readonly FrameRange[];
  /** RAM frames the boot structures (and the rings, the P2M list) occupy. */
  readonly reserved: readonly FrameRange[];
  /** Lines for the boot log (memory map, start-info version...). */
  readonly notes: readonly string[];
}

/** A shared ring page and its event channel. */
export interface RingLocation {
  /** Guest address of the page as this kernel reaches it (paging is off: guest-physical / pseudo-physical). */
  readonly addr: number;
  /** Its frame number in the guest's own space (gfn for PVH, pfn for PV). */
  readonly frame: number;
  readonly port: number;
}

export interface XenInitOps {
  /** `xen_pvh_init_ops`, `xen_pv_init_ops`. */
  readonly name: string;
  readonly mode: 'pv' | 'pvh';
  /** The hook functions by role, as the boot log names them. */
  readonly hooks: Readonly<Record<string, string>>;
  /** Reads the start info: command line, memory map. */
  parsePreloadData(v: VcpuApi, startInfo: number): Preload;
  /** Where the xenstore and console rings are. */
  findRings(v: VcpuApi, hv: Hypervisor, preload: Preload): { store: RingLocation; console: RingLocation };
  /**
   * Makes the shared-info page reachable (at a free frame from `allocate`, where it needs one); returns
   * its guest address, or why it cannot be reached.
   */
  mapSharedInfo(v: VcpuApi, hv: Hypervisor, allocate: () => number): { addr: number } | { unavailable: string };
}
