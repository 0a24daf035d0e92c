/** xen_version (hypercall 17): every XENVER sub-op of Xen 4.17, byte for byte (xen/common/kernel.c, xsm/dummy.h). */
import type { HypercallArgs, HypercallContext, HypercallHandler, HypercallTable } from '../api/hypercall.js';
import type { XenVersionInfo } from '../api/platform.js';
import { GuestError } from '../api/errors.js';
import { PAGE_SIZE } from '../public/memory.js';
import { XEN_EXTRAVERSION, XEN_MAJOR, XEN_MINOR } from '../public/xen.js';
import { XENFEAT, XENVER, XENVER_SIZE } from '../public/version.js';
import { HYPERVISOR_VIRT_START, XEN_DOMAIN_HANDLE_SIZE, XenBuildId, XenCompileInfo, XenFeatureInfo, XenPlatformParameters } from '../public/platform.js';

export { XENVER } from '../public/version.js';

/** What this build reports. Fixed strings, so runs are reproducible. */
export const XEN_BUILD_INFO = {
  compiler: 'gcc (Debian 12.2.0-14) 12.2.0',
  compileBy: 'xenoserver',
  compileDomain: 'xenoserver.invalid',
  compileDate: 'Mon Dec 12 00:00:00 UTC 2022',
  changeset: 'Mon Dec 12 00:00:00 2022 +0000 git:xenoserver',
  capabilities: 'xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64',
  /** A fixed 20-byte build id (the length of a GNU SHA-1 build id). */
  buildId: Uint8Array.from({ length: 20 }, (_, i) => (0x58 + i * 7) & 0xff),
} as const;

/** The command line Xen reports until the host sets its own: what makes guest output and Dom0's reach the ring. */
export const DEFAULT_XEN_COMMANDLINE = 'console=com1 console_to_ring loglvl=all guest_loglvl=all';

/** `xen_deny()`: what an unprivileged caller reads instead of denied strings. */
const DENIED = '<denied>';

/** Per-host state the handler reads: domain handles and the command line. */
export interface XenVersionState {
  /** The 16-byte handle of `domid`, or undefined while the toolstack has set none (reads as zeros). */
  handleOf(domid: number): Uint8Array | undefined;
  commandLine(): string;
}

const NO_STATE: XenVersionState = { handleOf: () => undefined, commandLine: () => DEFAULT_XEN_COMMANDLINE };

/** A NUL-padded fixed-size field (Xen's `safe_strcpy` into a zeroed buffer: at most size-1 bytes). */
function field(bytes: Uint8Array, at: number, size: number, text: string): void {
  const n = Math.min(text.length, size - 1);
  for (let i = 0; i < n; i++) bytes[at + i] = text.charCodeAt(i) & 0xff;
}

function fixed(size: number, text: string): Uint8Array {
  const out = new Uint8Array(size);
  field(out, 0, size, text);
  return out;
}

/** XENVER_compile_info's `xen_compile_info_t`. */
function compileInfo(): Uint8Array {
  const info = new Uint8Array(XenCompileInfo.size);
  const c = XenCompileInfo;
  field(info, c.compiler, c.compilerSize, XEN_BUILD_INFO.compiler);
  field(info, c.compileBy, c.compileBySize, XEN_BUILD_INFO.compileBy);
  field(info, c.compileDomain, c.compileDomainSize, XEN_BUILD_INFO.compileDomain);
  field(info, c.compileDate, c.compileDateSize, XEN_BUILD_INFO.compileDate);
  return info;
}

/** What xen_version answers a privileged PV caller (Platform.versionInfo). */
export function xenVersionInfo(): XenVersionInfo {
  return {
    version: ((XEN_MAJOR << 16) | XEN_MINOR) >>> 0,
    extraversion: XEN_EXTRAVERSION,
    compileInfo: compileInfo(),
    capabilities: XEN_BUILD_INFO.capabilities,
    changeset: XEN_BUILD_INFO.changeset,
    virtStart: HYPERVISOR_VIRT_START,
    pageSize: PAGE_SIZE,
  };
}

/**
 * XENVER_get_features submap 0 for the caller: memory_op_vnode_supported always; translated guests
 * (HVM/PVH) add writable_page_tables and auto_translated_physmap; PV adds mmu_pt_update_preserve_ad,
 * highmem_assist, gnttab_map_avail_bits; HVM/PVH add hvm_safe_pvclock and hvm_callback_vector, and
 * hvm_pirqs where the domain has emulated PIRQs (HVM, not PVH); Dom0 adds dom0; PV is direct_mapped,
 * the others not_direct_mapped.
 */
export function featureSubmap0(ctx: Pick<HypercallContext, 'mode' | 'domid'>): number {
  const bit = (n: number) => 1 << n;
  let map = bit(XENFEAT.memory_op_vnode_supported);
  const translated = ctx.mode !== 'pv';
  if (translated) map |= bit(XENFEAT.writable_page_tables) | bit(XENFEAT.auto_translated_physmap);
  if (ctx.domid === 0) map |= bit(XENFEAT.dom0);
  if (!translated) map |= bit(XENFEAT.mmu_pt_update_preserve_ad) | bit(XENFEAT.highmem_assist) | bit(XENFEAT.gnttab_map_avail_bits);
  else map |= bit(XENFEAT.hvm_safe_pvclock) | bit(XENFEAT.hvm_callback_vector) | (ctx.mode === 'pvh' ? 0 : bit(XENFEAT.hvm_pirqs));
  map |= translated ? bit(XENFEAT.not_direct_mapped) : bit(XENFEAT.direct_mapped);
  return map >>> 0;
}

/**
 * Makes `do_xen_version(cmd, arg)`. Access follows Xen's default XSM policy: version,
 * platform_parameters, get_features, extraversion, compile_info, capabilities, changeset, pagesize
 * and guest_handle for everyone; commandline and build_id only for privileged callers (an
 * unprivileged commandline reads "<denied>", build_id fails with EPERM). Unknown sub-ops: ENOSYS.
 */
export function makeXenVersion(state: XenVersionState = NO_STATE): HypercallHandler {
  return (ctx: HypercallContext, args: HypercallArgs): number => {
    const cmd = args[0] ?? 0;
    const arg = args[1] ?? 0;
    const deny = !ctx.privileged && (cmd === XENVER.commandline || cmd === XENVER.build_id);
    switch (cmd) {
      case XENVER.version:
        return ((XEN_MAJOR << 16) | XEN_MINOR) >>> 0;
      case XENVER.extraversion:
        ctx.guest.write(arg, fixed(XENVER_SIZE.extraversion, XEN_EXTRAVERSION));
        return 0;
      case XENVER.compile_info:
        ctx.guest.write(arg, compileInfo());
        return 0;
      case XENVER.capabilities:
        ctx.guest.write(arg, fixed(XENVER_SIZE.capabilities, XEN_BUILD_INFO.capabilities));
        return 0;
      case XENVER.changeset:
        ctx.guest.write(arg, fixed(XENVER_SIZE.changeset, XEN_BUILD_INFO.changeset));
        return 0;
      case XENVER.platform_parameters:
        ctx.guest.writeU64Big(arg + XenPlatformParameters.virtStart, ctx.mode === 'pv' ? HYPERVISOR_VIRT_START : 0n);
        return 0;
      case XENVER.get_features: {
        const idx = ctx.guest.readU32(arg + XenFeatureInfo.submapIdx);
        if (idx !== 0) throw new GuestError('EINVAL', `xen_version get_features: no submap ${idx}`, { domid: ctx.domid });
        ctx.guest.writeU32(arg + XenFeatureInfo.submap, featureSubmap0(ctx));
        return 0;
      }
      case XENVER.pagesize:
        if (arg !== 0) throw new GuestError('EINVAL', 'xen_version pagesize takes no argument', { domid: ctx.domid });
        return PAGE_SIZE;
      case XENVER.guest_handle: {
        const handle = new Uint8Array(XEN_DOMAIN_HANDLE_SIZE);
        handle.set(state.handleOf(ctx.domid)?.subarray(0, XEN_DOMAIN_HANDLE_SIZE) ?? []);
        ctx.guest.write(arg, handle);
        return 0;
      }
      case XENVER.commandline:
        ctx.guest.write(arg, deny ? fixed(DENIED.length + 1, DENIED) : fixed(XENVER_SIZE.commandline, state.commandLine()));
        return 0;
      case XENVER.build_id:
        return buildId(ctx, arg, deny);
      default:
        throw new GuestError('ENOSYS', `xen_version: unknown sub-op ${cmd}`, { domid: ctx.domid });
    }
  };
}

/** XENVER_build_id: a null argument asks for the size; otherwise `len` must be non-zero and large enough (ENOBUFS). */
function buildId(ctx: HypercallContext, arg: number, deny: boolean): number {
  if (deny) throw new GuestError('EPERM', 'xen_version build_id needs privilege', { domid: ctx.domid });
  const id = XEN_BUILD_INFO.buildId;
  if (arg === 0) return id.length;
  const len = ctx.guest.readU32(arg + XenBuildId.len);
  if (len === 0) throw new GuestError('EINVAL', 'xen_version build_id: len is 0', { domid: ctx.domid });
  if (id.length > len) throw new GuestError('ENOBUFS', `xen_version build_id: ${id.length} bytes do not fit in ${len}`, { domid: ctx.domid });
  ctx.guest.write(arg + XenBuildId.buf, id);
  return id.length;
}

/** The handler with no per-domain state (every guest handle reads as zeros; the default command line). */
export const doXenVersion: HypercallHandler = makeXenVersion();

/**
 * Registers the stateless handler; returns its remover. Kept for tables built without the platform
 * subsystem (unit tests, benchmarks); a booted host gets the stateful one from `createPlatformOps`.
 */
export function registerXenVersion(table: HypercallTable): () => void {
  return table.register('xen_version', doXenVersion);
}
