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
  GuestMemory,
  HvmParams,
  P2m,
  P2mType,
  SharedInfoPage,
  type CpuMask,
  type Domain,
  type DomainConfig,
  type DomainRegistry,
  type EventChannels,
  type GrantTables,
  type GuestKernel,
  type GuestKernels,
  type Platform,
  type VcpuApi,
  type VcpuRequest,
  type WakeReason,
  type Xenstore,
} from '../../../core/api/index.js';
import { GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE, HVM_PARAM, PAGE_SIZE, domId, grantRef, guestFrame, type MachineFrame } from '../../../core/public/index.js';

const DOM0 = domId(0);
import { PVH_CONSOLE_GFN, PVH_STORE_GFN, PV_CONSOLE_PFN, PV_START_INFO_ADDR, PV_STORE_PFN, PVH_START_INFO_ADDR, minimumPages, writePvStartInfo, writePvhStartInfo } from './boot-layout.js';
import { POPULATE_BATCH, POPULATE_FRAME_CYCLES, copies, hypercalls, xenstoreOps } from './costs.js';
import { writeHome } from './xenstore-home.js';
import { writeDevices } from './devices.js';

/** libxl's LIBXL_MAXMEM_CONSTANT: slack above maxmem for the pages the builder adds (1 MiB). */
export const MAXMEM_SLACK_PAGES = 256;

/** What the builder needs of the host. */
export interface BuilderDeps {
  domains: DomainRegistry;
  evtchn: EventChannels;
  gnttab: GrantTables;
  platform: Platform;
  kernels: GuestKernels;
  xenstore: Xenstore;
  /** Names in use (the toolstack's domains, Domain-0 included). */
  nameTaken(name: string): boolean;
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
}

/** Where a config key was written, for errors. */
function at(config: DomainConfig, key: string): { file: string; path: string; line?: number } {
  const where = { file: config.source.file, path: config.source.path ? `${config.source.path}.${key}` : key };
  return config.source.line !== undefined ? { ...where, line: config.source.line } : where;
}

/** Resolves a file named in a config the way xl does, relative paths from the config's folder. */
function configPath(config: DomainConfig, file: string): string {
  return isAbsolute(file) ? file : resolvePath(dirname(config.source.file), file);
}

/**
 * Everything that can be refused before a domain exists: a duplicate name, a kernel this build lacks
 * or a missing kernel/ramdisk/disk file. Throws a ConfigError naming the file and key.
 */
export function checkConfig(config: DomainConfig, deps: Pick<BuilderDeps, 'kernels' | 'nameTaken'>): GuestKernel {
  if (deps.nameTaken(config.name)) throw new ConfigError(`domain name "${config.name}" is already in use`, at(config, 'name'));
  if (config.type === 'hvm') throw new ConfigError(`type "hvm" needs the HVM guest mode and a device model, which this build does not have yet`, at(config, 'type'));
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
  });
  const pages = Math.floor(config.memoryBytes / PAGE_SIZE);
  if (pages < minimumPages(config.type, pages)) throw new ConfigError(`memory ${config.memoryBytes / 2 ** 20} MiB is too small for a ${config.type} guest`, at(config, 'memory'));
  return kernel;
}

/** Builds the domain: the body of the toolstack's `create` task. Destroys the half-built domain on failure. */
export function* buildDomain(v: VcpuApi, deps: BuilderDeps, config: DomainConfig, uuid: string, kernel: GuestKernel): Generator<VcpuRequest, Built, WakeReason> {
  const pages = Math.floor(config.memoryBytes / PAGE_SIZE);
  const maxPages = Math.floor(config.maxmemBytes / PAGE_SIZE);
  hypercalls(v); // XEN_DOMCTL_createdomain
  const affinity = deps.cpuMask(config.cpus.all);
  const d = deps.domains.create({
    name: config.name,
    mode: config.type,
    vcpus: config.maxvcpus,
    maxPages: maxPages + MAXMEM_SLACK_PAGES,
    pages: 0,
    paused: true,
    ...(affinity ? { affinity } : {}),
  });
  try {
    hypercalls(v, 3); // setdomainhandle, max_vcpus, max_mem
    deps.platform.setDomainHandle(d.domid, uuidBytes(uuid));
    applyLimits(deps, d, config);
    config.cpus.perVcpu.forEach((set, i) => {
      const mask = deps.cpuMask(set);
      if (mask && d.vcpus[i]) d.vcpus[i].setHardAffinity(mask);
    });
    yield v.preempt();
    stillThere(deps, d);

    const p2m = d.container.resolve(P2m);
    const mfns = populate(v, d, p2m, pages, 0);
    // Populating takes time in proportion to the memory (page scrubbing, P2M updates): a big guest's
    // build spans several scheduling quanta, and anything may happen meanwhile.
    yield* v.burn(pages * POPULATE_FRAME_CYCLES);
    stillThere(deps, d);
    const mem = d.container.resolve(GuestMemory);
    const store = { gfn: 0, port: 0 };
    const console = { gfn: 0, port: 0 };
    let storeFrame: number;
    let consoleFrame: number;
    if (config.type === 'pv') {
      store.gfn = PV_STORE_PFN;
      console.gfn = PV_CONSOLE_PFN;
      storeFrame = mfns[PV_STORE_PFN]!;
      consoleFrame = mfns[PV_CONSOLE_PFN]!;
    } else {
      store.gfn = PVH_STORE_GFN;
      console.gfn = PVH_CONSOLE_GFN;
      storeFrame = store.gfn;
      consoleFrame = console.gfn;
      populateAt(v, d, p2m, PVH_STORE_GFN);
      populateAt(v, d, p2m, PVH_CONSOLE_GFN);
    }
    hypercalls(v, 2); // EVTCHNOP_alloc_unbound ×2
    store.port = deps.evtchn.allocUnbound(d.domid, DOM0);
    console.port = deps.evtchn.allocUnbound(d.domid, DOM0);
    hypercalls(v, 1); // grant table setup: the reserved entries
    deps.gnttab.grantAccess(d.domid, grantRef(GNTTAB_RESERVED_CONSOLE), DOM0, consoleFrame, false);
    deps.gnttab.grantAccess(d.domid, grantRef(GNTTAB_RESERVED_XENSTORE), DOM0, storeFrame, false);

    const cmdline = config.cmdline ?? '';
    const boot = d.vcpus[0]!.context;
    if (config.type === 'pv') {
      const shared = d.container.resolve(SharedInfoPage);
      copies(v, writePvStartInfo(mem, {
        nrPages: pages,
        sharedInfoMaddr: shared.mfn * PAGE_SIZE,
        storeMfn: mfns[PV_STORE_PFN]!,
        storeEvtchn: store.port,
        consoleMfn: mfns[PV_CONSOLE_PFN]!,
        consoleEvtchn: console.port,
        p2m: mfns,
        cmdline,
      }));
      boot.rsi = PV_START_INFO_ADDR;
    } else {
      const params = d.container.resolve(HvmParams);
      hypercalls(v, 4); // HVMOP_set_param ×4
      params.set(HVM_PARAM.STORE_PFN, BigInt(store.gfn));
      params.set(HVM_PARAM.STORE_EVTCHN, BigInt(store.port));
      params.set(HVM_PARAM.CONSOLE_PFN, BigInt(console.gfn));
      params.set(HVM_PARAM.CONSOLE_EVTCHN, BigInt(console.port));
      copies(v, writePvhStartInfo(mem, config.memoryBytes, cmdline));
      boot.rbx = PVH_START_INFO_ADDR;
    }
    hypercalls(v, d.vcpus.length); // XEN_DOMCTL_setvcpucontext
    // Only the boot vCPU runs at first; the kernel brings up the others (VCPUOP_up), as under Xen.
    for (let i = 1; i < d.vcpus.length; i++) d.vcpus[i]!.down();
    d.vcpus[0]!.setProgram(kernel.entry(d, config.type));
    yield v.preempt();
    stillThere(deps, d);

    const targetKiB = pages * 4;
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
      ops += writeDevices(tx, d.domid, config, deps.mac);
    });
    xenstoreOps(v, ops + 2);
    xs.introduce(d.domid, store.gfn, store.port);
    const warnings: string[] = [];
    if (config.pci.length > 0) warnings.push(`${config.source.file}: pci: ${config.pci.length} device(s) not assigned: PCI passthrough (pciback) is not supported yet`);
    return { domain: d, uuid, store, console, targetKiB, maxKiB, warnings };
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
 * each) where the range is aligned, single frames for the rest. Returns the MFN of each frame.
 */
function populate(v: VcpuApi, d: Domain, p2m: P2m, count: number, firstGfn: number): MachineFrame[] {
  const mfns = new Array<MachineFrame>(count);
  let i = 0;
  while (i < count) {
    const gfn = firstGfn + i;
    if (gfn % SUPERPAGE_FRAMES === 0 && count - i >= SUPERPAGE_FRAMES) {
      const first = d.allocateExtent(SUPERPAGE_ORDER);
      p2m.setLarge(guestFrame(gfn), first, P2mType.ram_rw);
      for (let k = 0; k < SUPERPAGE_FRAMES; k++) mfns[i + k] = (first + k) as MachineFrame;
      i += SUPERPAGE_FRAMES;
      continue;
    }
    const end = Math.min(count, Math.ceil((gfn + 1) / SUPERPAGE_FRAMES) * SUPERPAGE_FRAMES - firstGfn);
    const frames = d.allocatePages(end - i);
    frames.forEach((mfn, k) => p2m.set(guestFrame(firstGfn + i + k), mfn, P2mType.ram_rw));
    for (let k = 0; k < frames.length; k++) mfns[i + k] = frames[k]!;
    i = end;
  }
  hypercalls(v, Math.ceil(count / POPULATE_BATCH));
  return mfns;
}

function populateAt(v: VcpuApi, d: Domain, p2m: P2m, gfn: number): void {
  populate(v, d, p2m, 1, gfn);
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
