/**
 * The composition root: builds one simulated host from a resolved definition — engine, hardware,
 * hypercall table, plugins, CPU pool, domains — boots Dom0 and the listed guests, and tears it all down.
 */
import 'reflect-metadata';
import { container as globalContainer, type DependencyContainer } from 'tsyringe';
import { Engine, TraceKind, RealtimePacer, systemHostClock, type HostClock } from '../engine/index.js';
import { resolve as resolvePath } from 'node:path';
import { Engine as EngineToken, CostModel as CostModelToken, RunDir as RunDirToken } from '../api/tokens.js';
import { Logger as LoggerToken, createLogger, type Logger, type LogLevel, type LogSink } from '../api/log.js';
import { MachineMemory as MachineMemoryToken, PagingModes as PagingModesToken } from '../api/memory.js';
import { DomainRegistry as DomainRegistryToken, type Domain } from '../api/domain.js';
import { SchedulerRegistry as SchedulerRegistryToken } from '../api/scheduler.js';
import { HypercallTable as HypercallTableToken, HypercallDispatcher as HypercallDispatcherToken } from '../api/hypercall.js';
import { ConfigError } from '../api/errors.js';
import { HostMachineMemory, type EptP2m } from '../memory/index.js';
import { defaultPagingModes, type VcpuGuestAccess } from '../mmu/index.js';
import { DomainStateTable } from './domain-state.js';
import { createBareGuest, populateFrom0 } from './bare-guest.js';
import { Iommu } from '../iommu/index.js';
import { PciAssignmentImpl } from '../iommu/assignment.js';
import { PciAssignment as PciAssignmentToken } from '../api/pci.js';
import { TimerService } from '../timer/index.js';
import { ApicBus, LocalApic, IoApic, GsiRouter } from '../apic/index.js';
import { IoBus, MmioBus } from '../io/index.js';
import { CpuPoolImpl, SchedulerRegistryImpl } from '../cpu/index.js';
import { HvmPlatforms as HvmPlatformsToken } from '../api/hvm-platform.js';
import type { HvmPlatformsImpl } from '../hvm/hvm-platforms.js';
import { installInstructions } from './vcpu-instructions.js';
import { Platform as PlatformToken } from '../api/platform.js';
import { EventChannels as EventChannelsToken } from '../api/event-channel.js';
import { GrantTables as GrantTablesToken } from '../api/grant-table.js';
import { DomainRegistryImpl, type SharedInfoPageImpl, type HvmParamsImpl } from '../domain/index.js';
import type { HypervisorContext, Subsystem } from './subsystem.js';
import { CORE_SUBSYSTEMS } from './subsystems.js';
import { HypercallTableImpl, HypercallDispatcherImpl } from '../hypercall/index.js';
import { PluginHost, type PluginCatalog, type PluginEntry } from '../plugin-host/index.js';
import type { ResolvedHost } from '../config/index.js';
import type { DomainConfig } from '../config/index.js';
import { PAGE_SIZE } from '../public/memory.js';
import { domId, pciBdf, pcpuId } from '../public/types.js';
import { DOMID_XEN } from '../public/xen.js';
import { Dom0Tasks as Dom0TasksToken, type Dom0Job } from '../api/dom0.js';
import { GuestKernels as GuestKernelsToken } from '../api/guest-kernel.js';
import { GuestModes as GuestModesToken } from '../api/guest-mode.js';
import { Toolstack as ToolstackToken, type Toolstack, type ToolstackDomain } from '../api/toolstack.js';
import { Dom0TasksImpl } from './dom0-tasks.js';
import { GuestKernelRegistry } from './guest-kernels.js';
import { GuestModeRegistry } from './guest-modes.js';

export interface HostOptions {
  /** Where plugins come from: the tree's catalog, or a build's. */
  catalog: PluginCatalog;
  /** Features the core provides in this build. */
  coreFeatures: Iterable<string>;
  /** Receives every log record (default: dropped). */
  logSink?: LogSink;
  logLevel?: LogLevel;
  /** Overrides the definition's seed. */
  seed?: number;
  /** Directory npm package plugins are resolved from (default: the definition's folder). */
  cwd?: string;
  /** Overrides the definition's run directory (`xeno up --run-dir`). */
  runDir?: string;
}

const NO_SINK: LogSink = () => {};

/** One running simulated host. Make it with {@link Host.boot}; end it with {@link Host.shutdown}. */
export class Host {
  readonly engine: Engine;
  readonly container: DependencyContainer;
  readonly log: Logger;
  readonly memory: HostMachineMemory;
  readonly timers: TimerService;
  readonly apicBus: ApicBus;
  readonly lapics: LocalApic[];
  readonly ioApic: IoApic;
  readonly gsi: GsiRouter;
  readonly iommu: Iommu;
  readonly io: IoBus;
  readonly mmio: MmioBus;
  readonly schedulers = new SchedulerRegistryImpl();
  readonly hypercalls = new HypercallTableImpl();
  readonly dispatcher: HypercallDispatcherImpl;
  readonly plugins: PluginHost;
  /** Where this host's sockets live (absolute). */
  readonly runDir: string;
  readonly kernels = new GuestKernelRegistry();
  readonly guestModes = new GuestModeRegistry();
  /** Dom0's process runner (exists once Dom0 does). */
  dom0Tasks: Dom0TasksImpl | undefined;
  /** The toolstack's jobs for the definition's guests, in order (empty without a toolstack plugin). */
  readonly bootJobs: Dom0Job<ToolstackDomain>[] = [];
  private poolImpl: CpuPoolImpl | undefined;
  private domainsImpl: DomainRegistryImpl | undefined;
  private readonly pagingModes = defaultPagingModes();
  private readonly state: DomainStateTable;
  private subsystems: Subsystem[] = [];
  private stopped = false;

  private constructor(
    readonly definition: ResolvedHost,
    readonly options: HostOptions,
  ) {
    const seed = options.seed ?? definition.seed;
    this.runDir = resolvePath(options.runDir ?? definition.runDir);
    this.engine = new Engine({ seed, cost: definition.cost });
    const sink = options.logSink ?? NO_SINK;
    const level = options.logLevel ?? 'info';
    this.log = createLogger('host', sink, () => this.engine.now, level);
    this.container = globalContainer.createChildContainer();
    this.memory = new HostMachineMemory(Math.floor(definition.memoryBytes / PAGE_SIZE));
    this.timers = new TimerService(this.engine, { tscKhz: definition.cpus.mhz * 1000 });
    this.apicBus = new ApicBus({ engine: this.engine });
    this.lapics = Array.from({ length: definition.cpus.count }, (_, i) => {
      const apic = new LocalApic(this.engine, { apicId: i, bsp: i === 0, tsc: this.timers.tsc.forCpu(pcpuId(i)), name: `cpu${i}` });
      this.apicBus.attach(apic);
      return apic;
    });
    this.traceInterrupts();
    this.ioApic = new IoApic(this.apicBus, { id: definition.cpus.count });
    this.gsi = new GsiRouter();
    this.gsi.addIoApic(this.ioApic);
    this.iommu = new Iommu(this.memory, { engine: this.engine });
    this.io = new IoBus();
    this.mmio = new MmioBus();
    this.dispatcher = new HypercallDispatcherImpl(this.hypercalls, this.engine, this.log.child('hypercall'));
    const logFor = (source: string) => createLogger(source, sink, () => this.engine.now, level);
    this.plugins = new PluginHost({ catalog: options.catalog, container: this.container, features: options.coreFeatures, logger: logFor, cwd: options.cwd ?? dirnameOf(definition.file) });
    this.state = new DomainStateTable(this.engine, this.memory, this.pagingModes, definition.paging);
    this.registerCoreServices();
  }

  /**
   * Builds and boots a host: core hardware, plugin registration, the CPU pool with the configured
   * scheduler, Dom0, plugin start, then the definition's guests. Throws a typed error naming the
   * file/plugin when the definition cannot run; a plugin that fails at run time is contained.
   */
  static async boot(definition: ResolvedHost, options: HostOptions): Promise<Host> {
    const host = new Host(definition, options);
    try {
      host.checkBuild();
      await host.plugins.load(host.pluginEntries());
      await host.plugins.register();
      host.checkFeatures();
      host.createPool();
      host.createDom0();
      host.attachPhysicalDevices();
      await host.plugins.start();
      host.createListedGuests();
    } catch (error) {
      await host.shutdown();
      throw error;
    }
    return host;
  }

  /** The CPU pool (exists once booted). */
  get pool(): CpuPoolImpl {
    if (!this.poolImpl) throw new Error('host: the CPU pool does not exist before boot');
    return this.poolImpl;
  }

  /** The domain registry (exists once booted). */
  get domains(): DomainRegistryImpl {
    if (!this.domainsImpl) throw new Error('host: the domain registry does not exist before boot');
    return this.domainsImpl;
  }

  /** The P2M of a domain. */
  p2mOf(domid: number): EptP2m | undefined {
    return this.state.p2mOf(domid);
  }

  /**
   * Runs as fast as possible until the toolstack's jobs for the definition's guests have settled (or
   * `limitNs` of virtual time passed), so the guests exist — what a command showing a booted machine needs.
   */
  settleBoot(limitNs = 10e9): void {
    const end = this.engine.now + limitNs;
    const pending = (): boolean => this.bootJobs.some((j) => j.state === 'queued' || j.state === 'running');
    while (pending() && this.engine.now < end) this.engine.runFor(1e6);
  }

  /** Runs the simulation for `durationNs` of virtual time (as fast as possible). */
  runFor(durationNs: number): void {
    this.engine.runFor(durationNs);
  }

  /**
   * Runs for `durationNs` of virtual time paced to the wall clock (× `speed`), as an interactive host
   * does; resolves when that virtual time is reached. The same events happen at the same virtual times
   * as in {@link runFor}: pacing changes only when they happen in wall time.
   */
  runRealtime(durationNs: number, options: { clock?: HostClock; speed?: number } = {}): Promise<void> {
    // The stop event is queued before the pacer's first tick runs (that tick already advances time).
    let paced: { stop(): void } | undefined;
    this.engine.after(durationNs, () => {
      this.engine.stop();
      paced?.stop();
    });
    const run = this.runPaced(options);
    paced = run;
    return run.done;
  }

  /**
   * Runs paced to the wall clock until `stop()` (what `xeno up` does). External inputs (socket
   * requests queued with `engine.external`) wake the pacer at once.
   */
  runPaced(options: { clock?: HostClock; speed?: number } = {}): { stop(): void; done: Promise<void> } {
    const pacer = new RealtimePacer(this.engine, options.clock ?? systemHostClock, options.speed ?? 1);
    let poking = false;
    // Woken later, never from inside the event loop the pacer is running.
    this.engine.onExternal = () => {
      if (poking) return;
      poking = true;
      setImmediate(() => {
        poking = false;
        pacer.poke();
      });
    };
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    pacer.start();
    return {
      stop: () => {
        pacer.stop();
        this.engine.onExternal = null;
        finish();
      },
      done,
    };
  }

  /** Destroys every guest, disposes plugins in reverse order, and releases the containers. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.domainsImpl) {
      for (const d of this.domainsImpl.list().reverse()) if (d.domid !== 0) this.domainsImpl.destroy(d.domid);
    }
    const problems = await this.plugins.dispose();
    for (const sub of [...this.subsystems].reverse()) sub.dispose?.();
    for (const p of problems) this.log.error(p.error.message);
    for (const apic of this.lapics) this.apicBus.detach(apic);
    this.container.clearInstances();
  }

  // --- boot steps -----------------------------------------------------------------------------

  /** Records every physical interrupt a local APIC gets and every IPI, so they are part of the trace hash. */
  private traceInterrupts(): void {
    const trace = this.engine.trace;
    this.lapics.forEach((apic, cpu) => {
      apic.events.on('interrupt', () => trace.record(this.engine.now, TraceKind.Interrupt, DOMID_XEN, cpu, apic.pendingVector ?? 0));
    });
    this.apicBus.events.on('ipi', (source, message) => trace.record(this.engine.now, TraceKind.Ipi, DOMID_XEN, source.apicId, message.vector, message.deliveryMode, message.dest));
  }

  /** A definition that says which build it expects must run in that build (the source tree has every plugin). */
  private checkBuild(): void {
    const { build, file } = this.definition;
    const running = this.options.catalog.buildName;
    if (build !== undefined && running !== 'tree' && running !== build) {
      throw new ConfigError(`this machine expects build "${build}", but this is build "${running}"`, { file, path: 'build', ...lineAt(this.definition, ['build']) });
    }
  }

  /** Every feature the definition asks for must be enabled: by the core of this build or a loaded plugin. */
  private checkFeatures(): void {
    const def = this.definition;
    const missing = def.features.map((f, i) => [f, i] as const).filter(([f]) => !this.plugins.hasFeature(f));
    if (missing.length === 0) return;
    throw new ConfigError(
      missing.map(([f]) => `feature ${f} is not enabled in build "${this.options.catalog.buildName}" (neither the core nor an enabled plugin provides it)`).join('; '),
      { file: def.file, path: `features[${missing[0]![1]}]`, ...lineAt(def, ['features', missing[0]![1]]) },
    );
  }

  /**
   * The host's PCI devices belong to Dom0 until a toolstack assigns them elsewhere, as under Xen:
   * each gets an IOMMU context translating its DMA through Dom0's P2M.
   */
  private attachPhysicalDevices(): void {
    for (const dev of this.definition.devices) {
      const { bus, device, function: fn } = dev.address;
      this.iommu.attach(pciBdf(bus, device, fn), domId(0), this.state.p2mOf(0)!);
    }
  }

  private registerCoreServices(): void {
    const c = this.container;
    c.registerInstance(EngineToken, this.engine);
    c.registerInstance(CostModelToken, this.engine.cost);
    c.registerInstance(LoggerToken, this.log);
    c.registerInstance(MachineMemoryToken, this.memory);
    c.registerInstance(PagingModesToken, this.pagingModes);
    c.registerInstance(SchedulerRegistryToken, this.schedulers);
    c.registerInstance(HypercallTableToken, this.hypercalls);
    c.registerInstance(HypercallDispatcherToken, this.dispatcher);
    c.registerInstance(RunDirToken, this.runDir);
    c.registerInstance(GuestKernelsToken, this.kernels);
    c.registerInstance(GuestModesToken, this.guestModes);
  }

  /** The configured plugins, plus the scheduler's plugin when the definition names it only by `scheduler:`. */
  private pluginEntries(): PluginEntry[] {
    const def = this.definition;
    const entries: PluginEntry[] = def.plugins.map((p, i) => ({
      ...(p.package !== undefined ? { package: p.package } : { name: p.name }),
      options: p.options,
      where: { file: def.file, path: `plugins[${i}]`, ...lineAt(def, ['plugins', i]) },
    }));
    const named = new Set(def.plugins.map((p) => p.name));
    if (!named.has(def.scheduler) && this.options.catalog.has(def.scheduler)) {
      entries.push({ name: def.scheduler, options: {}, where: { file: def.file, path: 'scheduler', ...lineAt(def, ['scheduler']) } });
    }
    return entries;
  }

  private createPool(): void {
    const def = this.definition;
    if (!this.schedulers.has(def.scheduler)) {
      const known = this.schedulers.names();
      throw new ConfigError(`scheduler "${def.scheduler}" is not provided by any enabled plugin (registered: ${known.length ? known.join(', ') : 'none'})`, { file: def.file, path: 'scheduler', ...lineAt(def, ['scheduler']) });
    }
    this.poolImpl = new CpuPoolImpl({ engine: this.engine, scheduler: this.schedulers.create(def.scheduler), cpus: def.cpus.count, log: this.log.child('sched') });
    this.domainsImpl = new DomainRegistryImpl({ engine: this.engine, pool: this.poolImpl, memory: this.memory, container: this.container, log: this.log.child('domain'), dispatcher: this.dispatcher });
    this.container.registerInstance(DomainRegistryToken, this.domainsImpl);
    this.domainsImpl.events.on('created', (d) => this.state.attach(d));
    const assignment = new PciAssignmentImpl(this.iommu, this.domainsImpl, this.definition.devices.map((dev) => pciBdf(dev.address.bus, dev.address.device, dev.address.function)));
    this.container.registerInstance(PciAssignmentToken, assignment);
    this.domainsImpl.events.on('destroyed', (domid) => {
      assignment.domainDestroyed(domid);
      this.iommu.detachDomain(domid);
      this.state.detach(domid);
    });
    const ctx = this.hypervisorContext();
    this.subsystems = CORE_SUBSYSTEMS.map((make) => make(ctx));
    const platform = this.container.resolve(PlatformToken);
    const hvm = this.container.resolve(HvmPlatformsToken) as HvmPlatformsImpl;
    this.domainsImpl.events.on('created', (d) => installInstructions(d, { container: this.container, platform, hvm }));
  }

  /** The hypervisor's subsystems, in creation order. */
  get hypervisorSubsystems(): readonly Subsystem[] {
    return this.subsystems;
  }

  /** Per-domain state by domid, for subsystems and tests. */
  sharedInfoOf(domid: number): SharedInfoPageImpl | undefined {
    return this.state.sharedInfoOf(domid);
  }
  hvmParamsOf(domid: number): HvmParamsImpl | undefined {
    return this.state.hvmParamsOf(domid);
  }
  guestAccessOf(domid: number, vcpu: number): VcpuGuestAccess | undefined {
    return this.state.guestAccessOf(domid, vcpu);
  }

  private hypervisorContext(): HypervisorContext {
    return {
      engine: this.engine,
      memory: this.memory,
      domains: this.domains,
      pool: this.pool,
      hypercalls: this.hypercalls,
      timers: this.timers,
      container: this.container,
      log: this.log,
      hvmPaging: this.definition.paging,
      p2mOf: (domid) => this.state.p2mOf(domid),
      sharedInfoOf: (domid) => this.state.sharedInfoOf(domid),
      hvmParamsOf: (domid) => this.state.hvmParamsOf(domid),
      guestAccessOf: (domid, vcpu) => this.guestAccessOf(domid, vcpu),
    };
  }

  private createDom0(): void {
    const def = this.definition;
    const pages = Math.floor(def.dom0.memoryBytes / PAGE_SIZE);
    const dom0 = this.domains.create({ domid: 0, name: 'Domain-0', mode: 'pv', vcpus: def.dom0.vcpus, maxPages: pages, pages: 0, paused: true });
    populateFrom0({ engine: this.engine, p2mOf: (domid) => this.state.p2mOf(domid) }, dom0, pages);
    this.dom0Tasks = new Dom0TasksImpl(this.log.child('dom0'));
    this.dom0Tasks.attach(dom0);
    this.container.registerInstance(Dom0TasksToken, this.dom0Tasks);
    this.domains.unpause(0);
  }

  /** The toolstack provider, if a plugin gives one. */
  get toolstack(): Toolstack | undefined {
    const all = this.plugins.resolveAll(ToolstackToken);
    return all[0];
  }

  /**
   * The definition's guests: built by the toolstack when one is enabled (as Dom0 work that completes in
   * virtual time — a guest that cannot be built is logged naming it, and the others go on), else as
   * bare core domains for workload plugins to run.
   */
  private createListedGuests(): void {
    const toolstack = this.toolstack;
    for (const guest of this.definition.domains) {
      if (toolstack === undefined) {
        this.createGuest(guest);
        continue;
      }
      const job = toolstack.create(guest);
      job.onSettled((j) => {
        if (j.error) this.log.error(`${guest.name}: ${j.error.message}`);
      });
      this.bootJobs.push(job);
    }
  }

  /** A definition's guest as a bare core domain, for hosts without a toolstack (see bare-guest.ts). */
  createGuest(config: DomainConfig): Domain {
    return createBareGuest(
      {
        engine: this.engine,
        domains: this.domains,
        p2mOf: (domid) => this.state.p2mOf(domid),
        evtchn: () => this.container.resolve(EventChannelsToken),
        gnttab: () => this.container.resolve(GrantTablesToken),
      },
      config,
    );
  }
}

function dirnameOf(file: string): string {
  const i = file.lastIndexOf('/');
  return i > 0 ? file.slice(0, i) : '.';
}

function lineAt(def: ResolvedHost, path: (string | number)[]): { line?: number } {
  const line = def.lineOf(path);
  return line === undefined ? {} : { line };
}

