/**
 * Guest modes (PV, HVM, PVHVM, PVH) as plugins. A guest-mode plugin decides, for the domains of its
 * mode: the boot protocol the domain builder follows, what each privileged operation does, how memory
 * is virtualized, and whether the hypervisor emulates an APIC platform and a device model runs in Dom0
 * — the seed article's table of P (paravirtualized), VS (virtualized in software) and VH (in hardware).
 */
import type { Dom0Job } from './dom0.js';
import type { Domain, GuestMode, PrivilegedInstruction, VcpuApi } from './domain.js';
import type { GuestMemory } from './memory.js';
import type { DomainConfig } from '../config/domain-config.js';
import type { GuestKernel } from './guest-kernel.js';
import type { MachineFrame } from '../public/types.js';
import { token } from './tokens.js';

/** P: paravirtualized; VS: virtualized in software (a device model); VH: virtualized in hardware. */
export type Virtualization = 'P' | 'VS' | 'VH' | 'VS or P';

/** What a privileged instruction does in a mode. */
export type PrivilegedPolicy = 'trap-emulate' | 'vm-exit' | 'native';

/** A range of guest frames, `start` included, `end` excluded. */
export interface GuestFrameRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Where a mode puts a new guest's memory (libxc's layout for that mode). The builder populates the
 * ranges and the special frames, then puts the xenstore and console rings in the frames named here.
 */
export interface GuestMemoryLayout {
  /** RAM, in ascending order; the frames between ranges are holes (HVM: the VGA window, the MMIO hole). */
  readonly ram: readonly GuestFrameRange[];
  /** Frames outside RAM that are populated too (libxc's special pages). */
  readonly special: readonly number[];
  readonly storeGfn: number;
  readonly consoleGfn: number;
}

/** What the builder did that the mode's part needs (memory is populated; rings and ports exist). */
export interface GuestBuildContext {
  readonly domain: Domain;
  readonly config: DomainConfig;
  readonly kernel: GuestKernel;
  /** Guest RAM pages populated (the frames of `layout.ram`). */
  readonly pages: number;
  readonly layout: GuestMemoryLayout;
  readonly store: { readonly gfn: number; readonly port: number };
  readonly console: { readonly gfn: number; readonly port: number };
  /** The command line (cmdline/extra/root joined as libxl does). */
  readonly cmdline: string;
  /** The guest's memory by guest-physical address (PV: pseudo-physical), as the builder's foreign mapping. */
  readonly memory: GuestMemory;
  /** The machine frame behind guest frame `gfn` (throws for a frame that was not populated). */
  mfn(gfn: number): MachineFrame;
  /** The Dom0 vCPU running the build: the mode charges its hypercalls and copies to it. */
  readonly builder: VcpuApi;
  /** Queues a xenstore write (absolute path) the builder commits in the transaction that writes the domain's home. */
  xenstoreWrite(path: string, value: string): void;
}

export interface GuestModeProvider {
  readonly mode: GuestMode;
  readonly description: string;
  /** The xl.cfg `type` it builds. PVHVM and HVM are both `hvm`; `xen_platform_pci` chooses between them. */
  readonly xlType: 'pv' | 'pvh' | 'hvm';
  /** The seed article's row. */
  readonly virtualization: {
    readonly diskAndNetwork: Virtualization;
    readonly interruptsAndTimers: Virtualization;
    readonly motherboardAndBoot: Virtualization;
    readonly privilegedAndPageTables: Virtualization;
  };
  /** The paging mode of its domains, given the machine definition's `paging` (hap | shadow). */
  paging(machinePaging: string): string;
  /** Whether the hypervisor emulates a local APIC per vCPU and an IO-APIC for its domains. */
  readonly emulatedApic: boolean;
  /** Whether its domains get a device model in Dom0. */
  readonly deviceModel: boolean;
  /** What `insn` does when a guest of this mode executes it. */
  privileged(insn: PrivilegedInstruction): PrivilegedPolicy;
  /** Where the guest's memory and rings go; a ConfigError naming `memory` when the guest is too small for the layout. */
  layout(config: DomainConfig): GuestMemoryLayout;
  /**
   * The mode's part of the domain build, run inside the builder's Dom0 task with the domain paused:
   * boot structures, initial page tables or firmware, boot registers, the boot program. It may return
   * a job the toolstack waits for before it unpauses the domain (the device model's start); if that
   * job fails, the domain is destroyed.
   */
  build(ctx: GuestBuildContext): Dom0Job<unknown> | void;
}

/** Guest modes by name. */
export interface GuestModes {
  /** A mode registered twice is an error naming it. */
  register(provider: GuestModeProvider): void;
  get(mode: GuestMode): GuestModeProvider | undefined;
  modes(): GuestMode[];
}
export const GuestModes = token<GuestModes>('GuestModes');
