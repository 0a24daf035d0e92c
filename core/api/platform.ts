/** The platform's in-core API: CPUID and Xen MSRs as guest instructions see them, hypercall pages, the hypervisor console. */
import type { InjectionToken } from 'tsyringe';
import type { GuestFrame } from '../public/types.js';

/** The four registers a CPUID instruction returns, each a u32. */
export interface CpuidResult {
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

/** Options of {@link Platform.cpuid}. */
export interface CpuidOptions {
  /**
   * A PV guest used Xen's forced-emulation prefix (`ud2; .ascii "xen"; cpuid`): the instruction traps
   * and is emulated, costing `trapEmulate`. Ignored for HVM/PVH, whose CPUID always exits.
   */
  readonly forcedEmulation?: boolean;
}

/**
 * Xen's console ring (`xl dmesg`): whole lines, oldest dropped first once the ring's bytes exceed its
 * capacity. Guest lines are prefixed `(d<domid>) `, the hypervisor's own `(XEN) `; Dom0's are not.
 */
export interface HypervisorConsole {
  /** Ring capacity in bytes (each line counts its text plus a newline). */
  readonly capacity: number;
  /** The complete lines held, oldest first (partial lines still being assembled are not included). */
  lines(): string[];
  /** The lines as `xl dmesg` prints them: each followed by `\n`. */
  text(): string;
  /** Empties the ring (XEN_SYSCTL_readconsole with clear). Partial lines are kept. */
  clear(): void;
  /** Prints a hypervisor message (`printk`): one line per `\n`-separated part, prefixed `(XEN) `. */
  printk(text: string): void;
  /** Characters typed on the serial line; CONSOLEIO_read returns them (at most 128 are queued, as Xen's serial_rx_ring). */
  input(text: string): void;
}

/**
 * What the platform subsystem offers the rest of the core. Errors: an unknown domid or vCPU is
 * `GuestError('ESRCH'/'ENOENT')`; a faulting RDMSR/WRMSR is `HardwareError` with code `gp`, which the
 * caller injects as #GP(0) into the vCPU.
 */
export interface Platform {
  /**
   * CPUID on vCPU `vcpu` of `domid`: Xen's leaves 0x40000000..0x400000ff, basic leaves 0 and 1 (with the
   * hypervisor bit), zeros elsewhere. For HVM/PVH it is a VM exit (traced, `vmExit` charged).
   */
  cpuid(domid: number, vcpu: number, leaf: number, subleaf?: number, options?: CpuidOptions): CpuidResult;
  /** RDMSR of a Xen MSR (the hypercall-page MSR reads as 0). Anything else is a #GP. */
  rdmsr(domid: number, vcpu: number, msr: number): bigint;
  /**
   * WRMSR of a Xen MSR. Writing the hypercall-page MSR fills the named page with stubs for the
   * domain's mode: HVM/PVH name a guest frame (via the P2M); PV names a machine frame it owns.
   */
  wrmsr(domid: number, vcpu: number, msr: number, value: bigint): void;
  /**
   * Fills guest frame `gfn` of `domid` with its mode's hypercall stubs: what the domain builder does for
   * the page named by a PV kernel's XEN_ELFNOTE_HYPERCALL_PAGE (after translating its address to a frame).
   */
  initHypercallPage(domid: number, gfn: GuestFrame): void;
  /** XEN_DOMCTL_setdomainhandle: the 16-byte handle (UUID) XENVER_guest_handle returns; zeros until set. */
  setDomainHandle(domid: number, handle: Uint8Array): void;
  /** The hypervisor command line XENVER_commandline returns to privileged callers. */
  setCommandLine(commandLine: string): void;
  hypervisorConsole(): HypervisorConsole;
  /** XEN_DOMCTL_getvcpucontext: vCPU `vcpu` of `domid` as a `vcpu_guest_context` (5168 bytes; ESRCH/EINVAL for no such domain or vCPU). */
  vcpuContext(domid: number, vcpu: number): Uint8Array;
  /** What xen_version answers Dom0 (the version, strings and compile info a core dump records). */
  versionInfo(): XenVersionInfo;
}

/** xen_version's answers to a privileged caller. */
export interface XenVersionInfo {
  /** XENVER_version: major << 16 | minor. */
  readonly version: number;
  readonly extraversion: string;
  /** XENVER_compile_info as a `xen_compile_info_t` (144 bytes). */
  readonly compileInfo: Uint8Array;
  readonly capabilities: string;
  readonly changeset: string;
  /** XENVER_platform_parameters' virt_start for a PV caller. */
  readonly virtStart: bigint;
  readonly pageSize: number;
}
export const Platform = Symbol.for('xenoserver:Platform') as InjectionToken<Platform>;
