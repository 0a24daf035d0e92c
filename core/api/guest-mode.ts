/**
 * Guest modes (PV, HVM, PVHVM, PVH) as plugins. A guest-mode plugin decides, for the domains of its
 * mode: the boot protocol the domain builder follows, what each privileged operation does, how memory
 * is virtualized, and whether the hypervisor emulates an APIC platform and a device model runs in Dom0
 * — the seed article's table of P (paravirtualized), VS (virtualized in software) and VH (in hardware).
 */
import type { Dom0Job } from './dom0.js';
import type { Domain, GuestMode, PrivilegedInstruction, VcpuApi } from './domain.js';
import type { DomainConfig } from '../config/domain-config.js';
import type { GuestKernel } from './guest-kernel.js';
import { token } from './tokens.js';

/** P: paravirtualized; VS: virtualized in software (a device model); VH: virtualized in hardware. */
export type Virtualization = 'P' | 'VS' | 'VH' | 'VS or P';

/** What a privileged instruction does in a mode. */
export type PrivilegedPolicy = 'trap-emulate' | 'vm-exit' | 'native';

/** What the builder did that the mode's part needs (memory is populated; rings and ports exist). */
export interface GuestBuildContext {
  readonly domain: Domain;
  readonly config: DomainConfig;
  readonly kernel: GuestKernel;
  /** Guest pages populated (frames 0..pages-1 minus holes the mode asked for). */
  readonly pages: number;
  readonly store: { readonly gfn: number; readonly port: number };
  readonly console: { readonly gfn: number; readonly port: number };
  /** The command line (cmdline/extra/root joined as libxl does). */
  readonly cmdline: string;
  /** Boot vCPU 0's access to guest memory (paging off: guest-physical). */
  readonly memory: VcpuApi['memory'];
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
  /** The mode's part of the domain build: boot structures, initial page tables or firmware, boot registers, the boot program. Dom0 work. */
  build(ctx: GuestBuildContext): Dom0Job<void> | void;
}

/** Guest modes by name. */
export interface GuestModes {
  /** A mode registered twice is an error naming it. */
  register(provider: GuestModeProvider): void;
  get(mode: GuestMode): GuestModeProvider | undefined;
  modes(): GuestMode[];
}
export const GuestModes = token<GuestModes>('GuestModes');
