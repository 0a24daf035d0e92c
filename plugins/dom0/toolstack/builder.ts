/**
 * The domain builder (libxl__build_pre/build_pv/build_hvm + libxc's dom builder, collapsed): checks a
 * configuration against the host, creates the domain paused, populates its memory, lays out the boot
 * structures and the xenstore/console pages with their event channels and reserved grants, sets the
 * boot vCPU's registers, hands it to the kernel, writes the xenstore home and introduces the domain to
 * xenstored. It runs as a Dom0 task: each step is charged to Dom0.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath, dirname } from 'node:path';
import {
  ConfigError,
  GuestError,
  P2m,
  P2mType,
  formatPciAddress,
  type CpuMask,
  type Domain,
  type DomainConfig,
  type DomainRegistry,
  type EventChannels,
  type GrantTables,
  type Dom0Job,
  type GuestBuildContext,
  type GuestKernel,
  type GuestKernels,
  type GuestMemoryLayout,
  type GuestMode,
  type GuestModeProvider,
  type GuestModes,
  type PciAssignment,
  type Platform,
  type VcpuApi,
  type VcpuRequest,
  type WakeReason,
  type Xenstore,
} from '../../../core/api/index.js';
import { GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE, PAGE_SIZE, domId, grantRef, guestFrame, type MachineFrame } from '../../../core/public/index.js';
import { POPULATE_BATCH, POPULATE_FRAME_CYCLES, hypercalls, xenstoreOps } from './costs.js';
import { writeHome } from './xenstore-home.js';
import { virtualDevice, writeDevices } from './devices.js';

const DOM0 = domId(0);

/** libxl's LIBXL_MAXMEM_CONSTANT: slack above maxmem for the pages the builder adds (1 MiB). */
export const MAXMEM_SLACK_PAGES = 256;

/** What the builder needs of the host. */
export interface BuilderDeps {
  domains: DomainRegistry;
  evtchn: EventChannels;
  gnttab: GrantTables;
  platform: Platform;
  kernels: GuestKernels;
  /** The guest modes of this build: a `type` whose mode plugin is missing is refused. */
  modes: GuestModes;
  xenstore: Xenstore;
  /** Names in use (the toolstack's domains, Domain-0 included). */
  nameTaken(name: string): boolean;
  /** Device assignment, for `pci=` (XEN_DOMCTL_assign_device). */
  pci: PciAssignment;
  /** The hard-affinity mask of a cpulist, or undefined for all CPUs. */
  cpuMask(set: 'all' | readonly number[]): CpuMask | undefined;
  /** Console socket path of a domain (what `console/tty` says). */
  consoleTty(domid: number): string;
  /** A MAC for a vif that names none (Xen's OUI, from the seeded random source). */
  mac(): string;
  now(): number;
}

/** What the builder made. */
export interface Built {
  domain: Domain;
  uuid: string;
  store: { gfn: number; port: number };
  console: { gfn: number; port: number };
  targetKiB: number;
  maxKiB: number;
  warnings: string[];
  /** What the mode started that must finish before the domain is unpaused (an HVM guest's device model). */
  pending?: Dom0Job<unknown>;
}

/** A configuration that passed the checks: its kernel, its guest mode and the mode's memory layout. */
export interface CheckedConfig {
  kernel: GuestKernel;
  mode: GuestModeProvider;
  layout: GuestMemoryLayout;
}

/** The guest mode xl's `type` selects: `hvm` is PVHVM with the Xen platform PCI device (xl's default), plain HVM without. */
export function modeOf(config: DomainConfig): GuestMode {
  if (config.type === 'hvm') return config.xenPlatformPci ? 'pvhvm' : 'hvm';
  return config.type;
}

/** Where a config key was written, for errors. */
function at(config: DomainConfig, key: string): { file: string; path: string; line?: number } {
  const where = { file: config.source.file, path: config.source.path ? `${config.source.path}.${key}` : key };
  return config.source.line !== undefined ? { ...where, line: config.source.line } : where;
}

/** Resolves a file named in a config the way xl does, relative paths from the config's folder. */
export function configPath(config: DomainConfig, file: string): string {
  return isAbsolute(file) ? file : resolvePath(dirname(config.source.file), file);
}

/**
 * Everything that can be refused before a domain exists: a duplicate name, a guest mode or kernel this
 * build lacks, a missing kernel/ramdisk/disk file, too little memory for the mode's layout. Throws a
 * ConfigError naming the file and key.
 */
export function checkConfig(config: DomainConfig, deps: Pick<BuilderDeps, 'kernels' | 'modes' | 'nameTaken' | 'pci'>): CheckedConfig {
  if (deps.nameTaken(config.name)) throw new ConfigError(`domain name "${config.name}" is already in use`, at(config, 'name'));
  const modeName = modeOf(config);
  const mode = deps.modes.get(modeName);
  if (mode === undefined) {
    const why = config.type === 'hvm' ? ` (xen_platform_pci = ${config.xenPlatformPci ? 1 : 0})` : '';
    const known = deps.modes.modes();
    throw new ConfigError(`type "${config.type}"${why} needs the ${modeName} guest mode: enable the "${modeName}" plugin (this build's guest modes: ${known.length ? known.join(', ') : 'none'})`, at(config, 'type'));
  }
  const name = config.kernel;
  if (name === undefined) throw new ConfigError(`a ${config.type} guest needs kernel=`, at(config, 'kernel'));
  const kernel = deps.kernels.get(name);
  if (kernel === undefined) {
    const file = configPath(config, name);
    const known = deps.kernels.names();
    if (!existsSync(file)) throw new ConfigError(`kernel "${name}" not found: no such file (${file}), and no kernel of this build has that name (${known.length ? known.join(', ') : 'none'})`, at(config, 'kernel'));
    throw new ConfigError(`kernel "${name}": booting kernel files is not supported yet; name a kernel of this build (${known.length ? known.join(', ') : 'none'})`, at(config, 'kernel'));
  }
  if (!kernel.types.includes(config.type)) throw new ConfigError(`kernel "${name}" cannot boot a ${config.type} guest (it boots ${kernel.types.join(', ')})`, at(config, 'type'));
  if (config.ramdisk !== undefined && !existsSync(configPath(config, config.ramdisk))) throw new ConfigError(`ramdisk ${config.ramdisk}: no such file`, at(config, 'ramdisk'));
  config.disk.forEach((disk, i) => {
    if (disk.target === '') return; // an empty CD-ROM drive
    const file = configPath(config, disk.target);
    if (!existsSync(file)) throw new ConfigError(`disk ${disk.vdev}: image ${disk.target} does not exist`, at(config, `disk[${i}]`));
    const st = statSync(file);
    if (!st.isFile() && !st.isBlockDevice()) throw new ConfigError(`disk ${disk.vdev}: ${disk.target} is neither an image file nor a block device`, at(config, `disk[${i}]`));
    if (disk.format !== 'raw' && disk.format !== 'qcow2') throw new ConfigError(`disk ${disk.vdev}: format ${disk.format} is not served (the block backend serves raw and qcow2)`, at(config, `disk[${i}]`));
    if (virtualDevice(disk.vdev) === undefined) throw new ConfigError(`disk ${disk.vdev}: not a virtual device name the guest can be given (xvdX, hdX, sdX, dNpM)`, at(config, `disk[${i}]`));
  });
  if (config.pci.length > 0) {
    const devices = new Map(deps.pci.devices().map((dev) => [dev.bdf, dev.owner]));
    config.pci.forEach((spec, i) => {
      const bdf = formatPciAddress(spec.address);
      const owner = devices.get(bdf);
      const known = [...devices.keys()];
      if (owner === undefined) throw new ConfigError(`pci ${bdf}: no such device on this host (the machine definition's devices: ${known.length ? known.join(', ') : 'none'})`, at(config, `pci[${i}]`));
      if (owner !== 0) throw new ConfigError(`pci ${bdf}: the device is assigned to dom${owner}`, at(config, `pci[${i}]`));
    });
  }
  return { kernel, mode, layout: mode.layout(config) };
}

/** Builds the domain: the body of the toolstack's `create` task. Destroys the half-built domain on failure. */
export function* buildDomain(v: VcpuApi, deps: BuilderDeps, config: DomainConfig, uuid: string, checked: CheckedConfig): Generator<VcpuRequest, Built, WakeReason> {
  const { kernel, mode, layout } = checked;
  const maxPages = Math.floor(config.maxmemBytes / PAGE_SIZE);
  hypercalls(v); // XEN_DOMCTL_createdomain
  const affinity = deps.cpuMask(config.cpus.all);
  const d = deps.domains.create({
    name: config.name,
    mode: mode.mode,
    vcpus: config.maxvcpus,
    maxPages: maxPages + MAXMEM_SLACK_PAGES,
    pages: 0,
    paused: true,
    ...(affinity ? { affinity } : {}),
  });
  try {
    hypercalls(v, 3 + config.pci.length); // setdomainhandle, max_vcpus, max_mem, assign_device each
    deps.platform.setDomainHandle(d.domid, uuidBytes(uuid));
    // libxl assigns passthrough devices before building (it needs the IOMMU context for the guest).
    for (const spec of config.pci) deps.pci.assign(formatPciAddress(spec.address), d.domid);
    applyLimits(deps, d, config);
    config.cpus.perVcpu.forEach((set, i) => {
      const mask = deps.cpuMask(set);
      if (mask && d.vcpus[i]) d.vcpus[i].setHardAffinity(mask);
    });
    yield v.preempt();
    stillThere(deps, d);

    const p2m = d.p2m;
    let pages = 0;
    for (const range of layout.ram) {
      populate(v, d, p2m, range.end - range.start, range.start);
      pages += range.end - range.start;
    }
    // Populating takes time in proportion to the memory (page scrubbing, P2M updates): a big guest's
    // build spans several scheduling quanta, and anything may happen meanwhile.
    yield* v.burn(pages * POPULATE_FRAME_CYCLES);
    stillThere(deps, d);
    for (const gfn of layout.special) populate(v, d, p2m, 1, gfn);
    const mfn = (gfn: number): MachineFrame => {
      const m = p2m.mfnOf(guestFrame(gfn));
      if (!(m >= 0)) throw new GuestError('EINVAL', `${config.name}: guest frame 0x${gfn.toString(16)} is not populated`, { domid: d.domid });
      return m as MachineFrame;
    };
    const store = { gfn: layout.storeGfn, port: 0 };
    const console = { gfn: layout.consoleGfn, port: 0 };
    hypercalls(v, 2); // EVTCHNOP_alloc_unbound ×2
    store.port = deps.evtchn.allocUnbound(d.domid, DOM0);
    console.port = deps.evtchn.allocUnbound(d.domid, DOM0);
    hypercalls(v, 1); // grant table setup: the reserved entries (frames as the guest names them: MFNs for PV)
    const granted = (gfn: number): number => (mode.mode === 'pv' ? mfn(gfn) : gfn);
    deps.gnttab.grantAccess(d.domid, grantRef(GNTTAB_RESERVED_CONSOLE), DOM0, granted(console.gfn), false);
    deps.gnttab.grantAccess(d.domid, grantRef(GNTTAB_RESERVED_XENSTORE), DOM0, granted(store.gfn), false);

    const xenstoreWrites: [string, string][] = [];
    const ctx: GuestBuildContext = {
      domain: d,
      config,
      kernel,
      pages,
      layout,
      store,
      console,
      cmdline: config.cmdline ?? '',
      memory: d.guestMemory,
      mfn,
      builder: v,
      xenstoreWrite: (path, value) => void xenstoreWrites.push([path, value]),
    };
    const pending = mode.build(ctx) ?? undefined;
    hypercalls(v, d.vcpus.length); // XEN_DOMCTL_setvcpucontext
    // Only the boot vCPU runs at first; the kernel brings up the others (VCPUOP_up), as under Xen.
    for (let i = 1; i < d.vcpus.length; i++) d.vcpus[i]!.down();
    yield v.preempt();
    stillThere(deps, d);

    const targetKiB = Math.floor(config.memoryBytes / PAGE_SIZE) * 4;
    const maxKiB = maxPages * 4;
    const xs = deps.xenstore;
    let ops = 0;
    xs.dom0.transaction((tx) => {
      ops = writeHome(tx, {
        domid: d.domid,
        name: config.name,
        uuid,
        type: config.type,
        vcpus: config.vcpus,
        maxvcpus: config.maxvcpus,
        targetKiB,
        maxKiB,
        store,
        console,
        startTime: (deps.now() / 1e9).toFixed(2),
        consoleTty: deps.consoleTty(d.domid),
      });
      ops += writeDevices(tx, d.domid, config, deps.mac, (target) => configPath(config, target));
      for (const [path, value] of xenstoreWrites) tx.write(path, value);
      ops += xenstoreWrites.length;
    });
    xenstoreOps(v, ops + 2);
    xs.introduce(d.domid, store.gfn, store.port);
    const warnings: string[] = [];
    return { domain: d, uuid, store, console, targetKiB, maxKiB, warnings, ...(pending ? { pending } : {}) };
  } catch (error) {
    if (deps.domains.get(d.domid) !== undefined) deps.domains.destroy(d.domid);
    throw error;
  }
}

/** After a point where the task could be preempted: the domain may have been destroyed meanwhile. */
function stillThere(deps: BuilderDeps, d: Domain): void {
  if (deps.domains.get(d.domid) === undefined) throw new GuestError('ESRCH', `${d.name} was destroyed while it was being built`, { domid: d.domid });
}

/** 2 MiB superpages: populate_physmap's extent order 9. */
const SUPERPAGE_ORDER = 9;
const SUPERPAGE_FRAMES = 1 << SUPERPAGE_ORDER;

/**
 * Frames firstGfn.. of a fresh domain, as libxc populates them: 2 MiB superpages (one large P2M entry
 * each) where the range is aligned, single frames for the rest.
 */
function populate(v: VcpuApi, d: Domain, p2m: P2m, count: number, firstGfn: number): void {
  let i = 0;
  while (i < count) {
    const gfn = firstGfn + i;
    if (gfn % SUPERPAGE_FRAMES === 0 && count - i >= SUPERPAGE_FRAMES) {
      p2m.setLarge(guestFrame(gfn), d.allocateExtent(SUPERPAGE_ORDER), P2mType.ram_rw);
      i += SUPERPAGE_FRAMES;
      continue;
    }
    const end = Math.min(count, Math.ceil((gfn + 1) / SUPERPAGE_FRAMES) * SUPERPAGE_FRAMES - firstGfn);
    const frames = d.allocatePages(end - i);
    frames.forEach((mfn, k) => p2m.set(guestFrame(firstGfn + i + k), mfn, P2mType.ram_rw));
    i = end;
  }
  hypercalls(v, Math.ceil(count / POPULATE_BATCH));
}

function applyLimits(deps: BuilderDeps, d: Domain, config: DomainConfig): void {
  if (config.maxEventChannels !== undefined) deps.evtchn.setMaxPorts(d.domid, config.maxEventChannels);
  if (config.maxGrantFrames !== undefined) deps.gnttab.setMaxFrames(d.domid, config.maxGrantFrames);
  if (config.maxMaptrackFrames !== undefined) deps.gnttab.setMaxMaptrackFrames(d.domid, config.maxMaptrackFrames);
}

/** The 16-byte handle of a UUID string. */
export function uuidBytes(uuid: string): Uint8Array {
  return new Uint8Array(Buffer.from(uuid.replace(/-/g, ''), 'hex'));
}
