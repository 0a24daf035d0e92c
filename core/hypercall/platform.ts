/** The platform subsystem: CPUID and Xen MSRs, hypercall pages, hvm_op, multicall, console_io and xen_version. */
import type { SubsystemFactory, HypervisorContext } from '../host/subsystem.js';
import type { Domain } from '../api/domain.js';
import type { CpuidOptions, CpuidResult, Platform as PlatformApi, XenVersionInfo } from '../api/platform.js';
import { Platform } from '../api/platform.js';
import { HypercallDispatcher } from '../api/hypercall.js';
import { GuestError, HardwareError } from '../api/errors.js';
import { P2mType } from '../api/memory.js';
import { TraceKind } from '../engine/trace.js';
import type { VcpuImpl } from '../cpu/index.js';
import { PAGE_SHIFT, PAGE_MASK } from '../public/memory.js';
import { VMX_EXIT_REASON, XEN_DOMAIN_HANDLE_SIZE, XEN_HYPERCALL_MSR, XEN_MSR_FIRST, XEN_MSR_LAST } from '../public/platform.js';
import { guestFrame, machineFrame, type GuestFrame, type MachineFrame } from '../public/types.js';
import { guestCpuid } from './cpuid.js';
import { fillHypercallPage, hypercallPageKind } from './hypercall-page.js';
import { makeHvmOp } from './hvm-op.js';
import { makeMulticall } from './multicall.js';
import { HypervisorConsoleImpl, makeConsoleIo } from './console-io.js';
import { DEFAULT_XEN_COMMANDLINE, makeXenVersion, xenVersionInfo } from './xen-version.js';
import { encodeVcpuContext } from './domctl-vcpucontext.js';

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/** P2M types a hypercall page may be written into (Xen's get_page_from_gfn + writable page: RAM). */
const RAM_TYPES = new Set<number>([P2mType.ram_rw, P2mType.ram_logdirty, P2mType.ram_ro]);

/** The platform's in-core API over the hypervisor context. */
export class PlatformImpl implements PlatformApi {
  readonly console = new HypervisorConsoleImpl();
  private readonly handles = new Map<number, Uint8Array>();
  private commandLineText = DEFAULT_XEN_COMMANDLINE;

  constructor(private readonly hv: HypervisorContext) {}

  private vcpuOf(domid: number, vcpu: number): { d: Domain; v: VcpuImpl } {
    const d = this.hv.domains.lookup(domid);
    const v = d.vcpus[vcpu] as VcpuImpl | undefined;
    if (!Number.isInteger(vcpu) || !v) throw new GuestError('ENOENT', `dom${domid} has no vcpu${vcpu}`, { domid });
    return { d, v };
  }

  cpuid(domid: number, vcpu: number, leaf: number, subleaf = 0, options: CpuidOptions = {}): CpuidResult {
    const { d, v } = this.vcpuOf(domid, vcpu);
    const cost = this.hv.engine.cost;
    if (d.mode !== 'pv') {
      v.charge(cost.vmExit);
      this.hv.engine.trace.record(v.localTime, TraceKind.VmExit, domid, vcpu, VMX_EXIT_REASON.CPUID, leaf >>> 0, subleaf >>> 0);
    } else if (options.forcedEmulation) {
      v.charge(cost.trapEmulate);
    }
    return guestCpuid({ domid, vcpu, mode: d.mode, tscKhz: this.hv.timers.tsc.khz, hostFrames: this.hv.memory.totalFrames }, leaf, subleaf);
  }

  rdmsr(domid: number, vcpu: number, msr: number): bigint {
    this.vcpuOf(domid, vcpu);
    if (msr === XEN_HYPERCALL_MSR) return 0n;
    throw new HardwareError('gp', `dom${domid} vcpu${vcpu}: rdmsr ${hex(msr)}: ${this.isXenMsr(msr) ? 'not a Xen MSR that exists' : 'not emulated'}`, { domid });
  }

  wrmsr(domid: number, vcpu: number, msr: number, value: bigint): void {
    const { d } = this.vcpuOf(domid, vcpu);
    const gp = (why: string) => new HardwareError('gp', `dom${domid} vcpu${vcpu}: wrmsr ${hex(msr)} ${hex(value)}: ${why}`, { domid });
    if (msr !== XEN_HYPERCALL_MSR) throw gp(this.isXenMsr(msr) ? 'not a Xen MSR that exists' : 'not emulated');
    const v = BigInt.asUintN(64, value);
    if ((v & BigInt(PAGE_MASK)) !== 0n) throw gp(`hypercall page index ${v & BigInt(PAGE_MASK)} unsupported`);
    const frame = v >> BigInt(PAGE_SHIFT);
    if (frame > BigInt(Number.MAX_SAFE_INTEGER)) throw gp('frame out of range');
    const bytes = d.mode === 'pv' ? this.ownedFrameBytes(d, machineFrame(Number(frame))) : this.ramFrameBytes(d, guestFrame(Number(frame)));
    if (!bytes) throw gp(`${d.mode === 'pv' ? 'MFN' : 'GFN'} ${hex(frame)} is not RAM of dom${domid}`);
    fillHypercallPage(bytes, hypercallPageKind(d.mode));
  }

  initHypercallPage(domid: number, gfn: GuestFrame): void {
    const d = this.hv.domains.lookup(domid);
    const bytes = this.ramFrameBytes(d, gfn);
    if (!bytes) throw new GuestError('EINVAL', `hypercall page: gfn ${hex(gfn)} is not RAM of dom${domid}`, { domid });
    fillHypercallPage(bytes, hypercallPageKind(d.mode));
  }

  setDomainHandle(domid: number, handle: Uint8Array): void {
    this.hv.domains.lookup(domid);
    if (handle.length !== XEN_DOMAIN_HANDLE_SIZE) throw new GuestError('EINVAL', `domain handle must be ${XEN_DOMAIN_HANDLE_SIZE} bytes, got ${handle.length}`, { domid });
    this.handles.set(domid, Uint8Array.from(handle));
  }

  setCommandLine(commandLine: string): void {
    this.commandLineText = commandLine;
  }

  hypervisorConsole(): HypervisorConsoleImpl {
    return this.console;
  }

  vcpuContext(domid: number, vcpu: number): Uint8Array {
    const d = this.hv.domains.lookup(domid);
    const v = d.vcpus[vcpu];
    if (v === undefined) throw new GuestError('EINVAL', `dom${domid} has no vcpu ${vcpu}`, { domid });
    return encodeVcpuContext(d, v);
  }

  versionInfo(): XenVersionInfo {
    return xenVersionInfo();
  }

  /** Forgets what belonged to a destroyed domain. */
  domainDestroyed(domid: number): void {
    this.handles.delete(domid);
    this.console.forget(domid);
  }

  handleOf(domid: number): Uint8Array | undefined {
    return this.handles.get(domid);
  }

  commandLine(): string {
    return this.commandLineText;
  }

  private isXenMsr(msr: number): boolean {
    return msr >= XEN_MSR_FIRST && msr <= XEN_MSR_LAST;
  }

  private ramFrameBytes(d: Domain, gfn: GuestFrame): Uint8Array | undefined {
    const p2m = this.hv.p2mOf(d.domid);
    if (!p2m || !RAM_TYPES.has(p2m.typeOf(gfn))) return undefined;
    const mfn = p2m.mfnOf(gfn);
    return mfn < 0 ? undefined : this.hv.memory.frameBytes(machineFrame(mfn));
  }

  private ownedFrameBytes(d: Domain, mfn: MachineFrame): Uint8Array | undefined {
    return this.hv.memory.ownerOf(mfn) === d.domid ? this.hv.memory.frameBytes(mfn) : undefined;
  }
}

/**
 * Makes the platform subsystem: registers multicall, xen_version, console_io and hvm_op, and the
 * {@link Platform} API in the host container.
 */
export const createPlatformOps: SubsystemFactory = (hv) => {
  const platform = new PlatformImpl(hv);
  const table = hv.hypercalls;
  const dispatcher = () => (hv.container.isRegistered(HypercallDispatcher, true) ? hv.container.resolve(HypercallDispatcher) : undefined);
  const removers = [
    table.register('multicall', makeMulticall(dispatcher)),
    table.register('xen_version', makeXenVersion({ handleOf: (domid) => platform.handleOf(domid), commandLine: () => platform.commandLine() })),
    table.register('console_io', makeConsoleIo(platform.console)),
    table.register('hvm_op', makeHvmOp(hv)),
  ];
  hv.container.registerInstance(Platform, platform);
  const onDestroyed = (domid: number) => platform.domainDestroyed(domid);
  hv.domains.events.on('destroyed', onDestroyed);
  return {
    name: 'platform',
    dump: () => `platform: ${platform.console.lines().length} console lines, ${platform.console.pendingInput} input characters queued`,
    dispose: () => {
      hv.domains.events.off('destroyed', onDestroyed);
      for (const remove of removers.reverse()) remove();
    },
  };
};
