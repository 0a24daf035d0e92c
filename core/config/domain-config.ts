/** The normalized guest configuration every xl.cfg file and YAML guest definition turns into. */
import type { CpuAffinity } from './cpuset.js';
import type { DiskSpec } from './diskspec.js';
import type { PciSpec } from './pcispec.js';
import type { VifSpec } from './vifspec.js';

/** Guest modes xl knows. PVHVM is an HVM guest using PV drivers: type "hvm". */
export const DOMAIN_TYPES = ['pv', 'pvh', 'hvm'] as const;
export type DomainType = (typeof DOMAIN_TYPES)[number];

/** What the toolstack does when a guest powers off, reboots, crashes… (xl.cfg(5) "Event Actions"). */
export const DOMAIN_ACTIONS = ['destroy', 'restart', 'rename-restart', 'preserve', 'coredump-destroy', 'coredump-restart', 'soft-reset'] as const;
export type DomainAction = (typeof DOMAIN_ACTIONS)[number];

/** Where a guest was defined, for messages about it later. */
export interface DomainSource {
  /** The xl.cfg or YAML file (for an inline guest, the host definition). */
  file: string;
  /** Key path inside the file for an inline guest: `domains[3]`. */
  path?: string;
  /** Line where the definition starts, when known. */
  line?: number;
}

/** A vif once the guest type is known: its `type` is always set. */
export type DomainVif = VifSpec & { type: 'vif' | 'ioemu' };

/**
 * A guest, normalized. Sizes are bytes; xl's defaults are applied (memory 32 MiB, 1 vCPU, affinity all,
 * on_poweroff destroy, on_reboot restart, on_watchdog destroy, on_crash destroy, on_soft_reset soft-reset).
 */
export interface DomainConfig {
  source: DomainSource;
  name: string;
  /** Lower-case UUID; absent means the toolstack derives one from the seed. */
  uuid?: string;
  type: DomainType;
  memoryBytes: number;
  /** At least memoryBytes; above it the guest starts ballooned down. */
  maxmemBytes: number;
  vcpus: number;
  /** At least vcpus; vCPUs vcpus..maxvcpus-1 start offline. */
  maxvcpus: number;
  cpus: CpuAffinity;
  /** Path of the kernel, or `generic` for the reference guest kernel. Required for pv and pvh. */
  kernel?: string;
  ramdisk?: string;
  /** The command line: `cmdline`, or `root=` and `extra` joined as xl joins them. */
  cmdline?: string;
  disk: DiskSpec[];
  vif: DomainVif[];
  pci: PciSpec[];
  onPoweroff: DomainAction;
  onReboot: DomainAction;
  onWatchdog: DomainAction;
  onCrash: DomainAction;
  onSoftReset: DomainAction;
  /** HVM: the Xen platform PCI device is present (default true). */
  xenPlatformPci: boolean;
  /** HVM only: the device model (default qemu-xen). */
  deviceModelVersion?: 'qemu-xen' | 'qemu-xen-traditional';
  /** HVM serial ports as xl's `serial` gives them (`pty`, `file:/path`…). */
  serial: string[];
  /** Seed of this guest's randomness; absent means derived from the host seed and the name. */
  seed?: number;
  /** xl `max_event_channels`: the highest event-channel port (default 1023). */
  maxEventChannels?: number;
  /** xl `max_grant_frames`: the most grant-table frames (default 64). */
  maxGrantFrames?: number;
  /** xl `max_maptrack_frames`: bounds the grant mappings the guest may hold (default 1024). */
  maxMaptrackFrames?: number;
}
