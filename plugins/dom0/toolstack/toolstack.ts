/** The Toolstack contract: domain records, the builder, lifecycle actions and the xl operations. */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { EventEmitter } from 'eventemitter3';
import {
  ConfigError,
  CpuMask,
  GuestError,
  type DeviceModelHost,
  type Dom0Job,
  type Dom0Tasks,
  type Dom0Waiter,
  type Domain,
  type DomainConfig,
  type CoreDumpInfo,
  type DiskSpec,
  type VifSpec,
  type Engine,
  type Logger,
  type MachineMemory,
  type ShutdownOptions,
  type ShutdownRequest,
  type Toolstack,
  type ToolstackDomain,
  type ToolstackEvents,
  type VcpuApi,
  type VcpuRequest,
  type WakeReason,
} from '../../../core/api/index.js';
import { PAGE_SIZE } from '../../../core/public/index.js';
import { MAXMEM_SLACK_PAGES, buildDomain, checkConfig, type BuilderDeps, type Built, type CheckedConfig } from './builder.js';
import { hypercalls, xenstoreOps } from './costs.js';
import { homePath, removeHome } from './xenstore-home.js';
import { BACKEND_KINDS, removeDevices } from './devices.js';
import { pvcontrolAvailable, pvcontrolFallback } from './pvcontrol.js';
import { writeCoreDump } from './dumpcore.js';
import { ShutdownActions } from './shutdown-actions.js';
import { DeviceHotplug } from './hotplug.js';

/** How long hot-plug waits for a backend (libxl's 10 s). */
const HOTPLUG_TIMEOUT_NS = 10e9;

interface DomainRecord extends ToolstackDomain {
  name: string;
  targetKiB: number;
  maxKiB: number;
}

/** What the toolstack uses besides the builder's dependencies. */
export interface ToolstackDeps extends BuilderDeps {
  engine: Engine;
  tasks: Dom0Tasks;
  log: Logger;
  /** Virtual ns a guest has to acknowledge control/shutdown. */
  shutdownTimeoutNs: number;
  /** The device-model host, for xl's `-F` triggers (undefined without the device-model plugin). */
  deviceModels?: () => DeviceModelHost | undefined;
  /** Machine memory, read by core dumps. */
  memory: MachineMemory;
  /** Where coredump-destroy / coredump-restart write `<name>` (xl's XEN_DUMP_DIR). */
  dumpDir: string;
}

export class ToolstackImpl implements Toolstack {
  readonly events = new EventEmitter<ToolstackEvents>();
  private readonly records = new Map<number, DomainRecord>();
  /** Names of the records, for uniqueness checks. */
  private readonly byName = new Map<string, number>();
  /** Names of domains being built (reserved before their domid exists). */
  private readonly building = new Set<string>();
  /** By domid: what a build left running that must finish before the domain starts (the device model). */
  private readonly pendingStarts = new Map<number, Dom0Job<unknown>>();
  private readonly uuidRng;
  private readonly unsubscribe: () => void;
  private readonly hotplug: DeviceHotplug;

  constructor(private readonly deps: ToolstackDeps) {
    this.uuidRng = deps.engine.rng.fork('toolstack/uuid');
    this.hotplug = new DeviceHotplug({ xenstore: deps.xenstore.dom0, tasks: deps.tasks, engine: deps.engine, log: deps.log, mac: deps.mac, timeoutNs: HOTPLUG_TIMEOUT_NS });
    const actions = new ShutdownActions({ toolstack: this, log: deps.log, dumpDir: deps.dumpDir, done: (h) => this.events.emit('shutdown', h) });
    const onState = (d: Domain, _from: string, to: string): void => {
      if (to === 'shutdown') actions.handle(d);
    };
    const onDestroyed = (domid: number): void => this.forget(domid);
    deps.domains.events.on('stateChanged', onState);
    deps.domains.events.on('destroyed', onDestroyed);
    this.unsubscribe = () => {
      deps.domains.events.off('stateChanged', onState);
      deps.domains.events.off('destroyed', onDestroyed);
    };
  }

  /**
   * What xen-init-dom0 and a first libxl run leave in xenstore: Dom0's home with its name and domid,
   * and the `/vm` and `/libxl` roots (which stay when the last guest goes, as in Xen).
   */
  initDom0(): void {
    const x = this.deps.xenstore.dom0;
    x.transaction((tx) => {
      tx.write('/local/domain/0/name', 'Domain-0');
      tx.write('/local/domain/0/domid', '0');
      tx.mkdir('/vm');
      tx.mkdir('/libxl');
      for (const kind of BACKEND_KINDS) tx.mkdir(`/local/domain/0/backend/${kind}`);
    });
  }

  dispose(): void {
    this.unsubscribe();
  }

  list(): ToolstackDomain[] {
    return [...this.records.values()].sort((a, b) => a.domid - b.domid);
  }

  get(domid: number): ToolstackDomain | undefined {
    return this.records.get(domid);
  }

  find(nameOrId: string): ToolstackDomain | undefined {
    const byName = this.byName.get(nameOrId);
    if (byName !== undefined) return this.records.get(byName);
    return /^\d+$/.test(nameOrId) ? this.records.get(Number(nameOrId)) : undefined;
  }

  /**
   * True when `name` names Domain-0, a domain this toolstack built, or one being built. Kept in a map,
   * not found by walking the domain list: a create must not cost more with 10,000 domains running.
   */
  nameTaken(name: string): boolean {
    return this.building.has(name) || this.byName.has(name) || this.deps.domains.get(0)?.name === name;
  }

  create(config: DomainConfig, options: { paused?: boolean } = {}): Dom0Job<ToolstackDomain> {
    const name = `create ${config.name}`;
    let checked: CheckedConfig;
    try {
      checked = checkConfig(config, { kernels: this.deps.kernels, modes: this.deps.modes, nameTaken: (n) => this.nameTaken(n), pci: this.deps.pci });
    } catch (error) {
      return this.deps.tasks.failed(name, error as Error);
    }
    const uuid = config.uuid ?? this.newUuid();
    const paused = options.paused === true;
    // libxl fills in each NIC's MAC before anything uses it: the vif directories and the emulated NIC see the same one.
    if (config.vif.some((v) => v.mac === undefined)) config = { ...config, vif: config.vif.map((v) => (v.mac !== undefined ? v : { ...v, mac: this.deps.mac() })) };
    this.building.add(config.name);
    const build = this.deps.tasks.submit(name, (v) => this.createTask(v, config, uuid, checked, paused));
    build.onSettled(() => this.building.delete(config.name));
    if (!checked.mode.deviceModel) return build;
    // libxl waits for the device model before it unpauses: the create settles once both are done.
    const waiter = this.deps.tasks.waiter<ToolstackDomain>(name);
    build.onSettled((b) => (b.error ? waiter.reject(b.error) : this.afterPending(b.result!, config, paused, waiter)));
    return waiter.job;
  }

  private *createTask(v: VcpuApi, config: DomainConfig, uuid: string, checked: CheckedConfig, paused: boolean): Generator<VcpuRequest, ToolstackDomain, WakeReason> {
    const built = yield* buildDomain(v, this.deps, config, uuid, checked);
    const record = this.addRecord(config, uuid, built, v.now);
    if (built.pending === undefined) this.start(v, record, paused);
    else this.pendingStarts.set(record.domid, built.pending);
    return record;
  }

  private addRecord(config: DomainConfig, uuid: string, built: Built, now: number): DomainRecord {
    const record: DomainRecord = {
      domid: built.domain.domid,
      name: config.name,
      uuid,
      type: config.type,
      config,
      console: built.console,
      store: built.store,
      startTime: now,
      targetKiB: built.targetKiB,
      maxKiB: built.maxKiB,
      warnings: built.warnings,
    };
    for (const w of built.warnings) this.deps.log.warn(w);
    this.records.set(record.domid, record);
    this.byName.set(record.name, record.domid);
    this.building.delete(config.name);
    return record;
  }

  /** XEN_DOMCTL_unpausedomain (unless asked to leave it paused) and the `created` event. */
  private start(v: VcpuApi, record: DomainRecord, paused: boolean): void {
    const config = record.config;
    hypercalls(v); // XEN_DOMCTL_unpausedomain
    if (!paused) this.deps.domains.unpause(record.domid);
    this.deps.log.info(`created ${config.name} (domain ${record.domid}, ${config.type}, ${config.vcpus} vCPU, ${config.memoryBytes / 2 ** 20} MiB)`);
    this.events.emit('created', record);
  }

  /** After the build: waits for what the mode started (the device model), then starts the domain, or destroys it if that failed. */
  private afterPending(record: ToolstackDomain, config: DomainConfig, paused: boolean, waiter: Dom0Waiter<ToolstackDomain>): void {
    const domid = record.domid;
    const pending = this.pendingStarts.get(domid);
    this.pendingStarts.delete(domid);
    if (pending === undefined) return waiter.resolve(record);
    const startTask = (rec: DomainRecord) =>
      function* (this: void, v: VcpuApi): Generator<VcpuRequest, ToolstackDomain, WakeReason> {
        start(v, rec);
        return rec;
      };
    const start = (v: VcpuApi, rec: DomainRecord): void => this.start(v, rec, paused);
    pending.onSettled((p) => {
      if (p.error) {
        const error = new GuestError('ESRCH', `${config.name}: ${p.name} failed, the domain is destroyed: ${p.error.message}`, { domid });
        this.deps.tasks.submit(`destroy ${domid}`, (v) => this.destroyTask(v, domid)).onSettled(() => waiter.reject(error));
        return;
      }
      const rec = this.records.get(domid);
      if (rec === undefined || this.deps.domains.get(domid) === undefined) return waiter.reject(new GuestError('ESRCH', `${config.name} was destroyed while its device model started`, { domid }));
      this.deps.tasks.submit(`start ${config.name}`, startTask(rec)).onSettled((j) => (j.error ? waiter.reject(j.error) : waiter.resolve(j.result!)));
    });
  }

  destroy(domid: number): Dom0Job<void> {
    const refused = this.refuse<void>(`destroy ${domid}`, domid, { dom0: true });
    if (refused) return refused;
    return this.deps.tasks.submit(`destroy ${domid}`, (v) => this.destroyTask(v, domid));
  }

  private *destroyTask(v: VcpuApi, domid: number): Generator<VcpuRequest, void, WakeReason> {
    const d = this.deps.domains.get(domid);
    if (d === undefined || d.state === 'dead') throw new GuestError('ESRCH', `domain ${domid} does not exist`, { domid });
    hypercalls(v); // XEN_DOMCTL_destroydomain
    this.deps.domains.destroy(domid);
    this.forget(domid, v);
  }

  /** Drops a domain's record and xenstore state (idempotent: destroy and the registry's event both come here). */
  private forget(domid: number, v?: VcpuApi): void {
    const record = this.records.get(domid);
    if (record === undefined) return;
    this.records.delete(domid);
    this.pendingStarts.delete(domid);
    if (this.byName.get(record.name) === domid) this.byName.delete(record.name);
    const xs = this.deps.xenstore;
    let ops = 0;
    xs.dom0.transaction((tx) => {
      ops = removeHome(tx, domid, record.uuid);
      removeDevices(tx, domid);
    });
    if (xs.isIntroduced(domid)) xs.release(domid);
    if (v) xenstoreOps(v, ops + 1);
    this.deps.log.info(`destroyed ${record.name} (domain ${domid})`);
    this.events.emit('destroyed', domid, record.name);
  }

  shutdown(domid: number, request: ShutdownRequest, options: ShutdownOptions = {}): Dom0Job<void> {
    const name = `shutdown ${domid} ${request}`;
    const refused = this.refuse<void>(name, domid, { dom0: true });
    if (refused) return refused;
    const { tasks, xenstore, engine } = this.deps;
    const d = this.deps.domains.get(domid)!;
    if (!pvcontrolAvailable(d)) {
      // libxl_domain_shutdown's ERROR_NOPARAVIRT, then xl's -F fallback (libxl_send_trigger).
      const { log, deviceModels } = this.deps;
      return tasks.submit(name, function* (v) {
        hypercalls(v); // xc_hvm_param_get(HVM_PARAM_CALLBACK_IRQ)
        const said = pvcontrolFallback(d, request, options.force === true, deviceModels?.());
        hypercalls(v); // the device model's trigger (QMP system_powerdown / system_reset)
        log.info(said);
      });
    }
    const waiter = tasks.waiter<void>(name);
    const node = `${homePath(domid)}/control/shutdown`;
    const write = tasks.submit(name, function* (v) {
      xenstoreOps(v, 1);
      xenstore.dom0.write(node, request);
    });
    write.onSettled((w) => {
      if (w.error) return waiter.reject(w.error);
      let unwatch: (() => void) | undefined;
      const timer = engine.after(this.deps.shutdownTimeoutNs, () => {
        unwatch?.();
        waiter.reject(new GuestError('ETIMEDOUT', `domain ${domid} did not acknowledge the ${request} request within ${this.deps.shutdownTimeoutNs / 1e9} s`, { domid }));
      });
      const settle = (): void => {
        engine.cancel(timer);
        unwatch?.();
        waiter.resolve();
      };
      unwatch = xenstore.dom0.watch(node, () => {
        const value = xenstore.dom0.read(node);
        // Acknowledged: the guest wrote "" back, or the node is gone with the domain.
        if (value === '' || value === undefined) settle();
      });
    });
    return waiter.job;
  }

  dumpCore(domid: number, file: string): Dom0Job<CoreDumpInfo> {
    const name = `dump-core ${domid}`;
    const refused = this.refuse<CoreDumpInfo>(name, domid, { dom0: true });
    if (refused) return refused;
    const { domains, memory, platform } = this.deps;
    return this.deps.tasks.submit(name, function* (v) {
      hypercalls(v);
      const d = domains.lookup(domid);
      // libxl_domain_core_dump pauses the domain for the dump (a shut-down one is already still).
      domains.pause(domid);
      try {
        return writeCoreDump(file, { domain: d, memory, platform });
      } finally {
        domains.unpause(domid);
      }
    });
  }

  blockAttach(domid: number, disk: DiskSpec, cwd: string): Dom0Job<number> {
    const refused = this.refuse<number>(`block-attach ${domid}`, domid, { dom0: true });
    if (refused) return refused;
    const file = disk.target === '' ? '' : isAbsolute(disk.target) ? disk.target : resolvePath(cwd, disk.target);
    return this.hotplug.blockAttach(domid, disk, file, this.deps.domains.lookup(domid).mode === 'pv');
  }

  blockDetach(domid: number, dev: string): Dom0Job<void> {
    return this.refuse<void>(`block-detach ${domid}`, domid, { dom0: true }) ?? this.hotplug.blockDetach(domid, dev);
  }

  networkAttach(domid: number, vif: VifSpec): Dom0Job<number> {
    return this.refuse<number>(`network-attach ${domid}`, domid, { dom0: true }) ?? this.hotplug.networkAttach(domid, vif);
  }

  networkDetach(domid: number, dev: string): Dom0Job<void> {
    return this.refuse<void>(`network-detach ${domid}`, domid, { dom0: true }) ?? this.hotplug.networkDetach(domid, dev);
  }

  pause(domid: number): Dom0Job<void> {
    return this.simple(`pause ${domid}`, domid, () => this.deps.domains.pause(domid));
  }

  unpause(domid: number): Dom0Job<void> {
    return this.simple(`unpause ${domid}`, domid, () => this.deps.domains.unpause(domid));
  }

  memSet(domid: number, kib: number): Dom0Job<void> {
    return this.xsUpdate(`mem-set ${domid}`, domid, (r) => {
      if (!Number.isInteger(kib) || kib <= 0) throw new GuestError('EINVAL', `memory target ${kib} KiB is not a positive size`, { domid });
      if (kib > r.maxKiB) throw new GuestError('EINVAL', `memory_dynamic_max must be less than or equal to memory_static_max (${kib} KiB > ${r.maxKiB} KiB)`, { domid });
      r.targetKiB = kib;
      this.deps.xenstore.dom0.write(`${homePath(domid)}/memory/target`, String(kib));
    });
  }

  memMax(domid: number, kib: number): Dom0Job<void> {
    return this.xsUpdate(`mem-max ${domid}`, domid, (r) => {
      if (!Number.isInteger(kib) || kib <= 0) throw new GuestError('EINVAL', `memory maximum ${kib} KiB is not a positive size`, { domid });
      const d = this.deps.domains.lookup(domid);
      const pages = Math.floor((kib * 1024) / PAGE_SIZE);
      if (pages < d.totPages - MAXMEM_SLACK_PAGES) throw new GuestError('EINVAL', `domain ${domid} already has ${(d.totPages * PAGE_SIZE) / 1024} KiB; mem-max ${kib} KiB is below it`, { domid });
      d.setMaxPages(pages + MAXMEM_SLACK_PAGES);
      r.maxKiB = kib;
      this.deps.xenstore.dom0.write(`${homePath(domid)}/memory/static-max`, String(kib));
    });
  }

  vcpuSet(domid: number, count: number): Dom0Job<void> {
    return this.xsUpdate(`vcpu-set ${domid}`, domid, (r) => {
      const max = r.config.maxvcpus;
      if (!Number.isInteger(count) || count < 1 || count > max) throw new GuestError('EINVAL', `domain ${domid} has ${max} vCPUs at most (maxvcpus); cannot set ${count}`, { domid });
      this.deps.xenstore.dom0.transaction((tx) => {
        for (let i = 0; i < max; i++) tx.write(`${homePath(domid)}/cpu/${i}/availability`, i < count ? 'online' : 'offline');
      });
    });
  }

  vcpuPin(domid: number, vcpu: number | 'all', cpus: string): Dom0Job<void> {
    return this.simple(`vcpu-pin ${domid}`, domid, () => {
      const d = this.deps.domains.lookup(domid);
      const mask = cpus === 'all' ? undefined : CpuMask.parse(cpus);
      const targets = vcpu === 'all' ? d.vcpus : [d.vcpus[vcpu]];
      if (targets.some((v) => v === undefined)) throw new GuestError('EINVAL', `domain ${domid} has no vCPU ${vcpu}`, { domid });
      for (const v of targets) v!.setHardAffinity(mask ?? this.deps.cpuMask('all') ?? CpuMask.all(256));
    }, { dom0: false });
  }

  rename(domid: number, name: string): Dom0Job<void> {
    return this.xsUpdate(`rename ${domid}`, domid, (r) => {
      if (name === '' || /[\s/]/.test(name)) throw new ConfigError(`"${name}" is not a valid domain name`);
      if (name !== r.name && this.nameTaken(name)) throw new ConfigError(`domain name "${name}" is already in use`);
      const from = r.name;
      this.byName.delete(from);
      this.byName.set(name, domid);
      r.name = name;
      this.deps.domains.rename(domid, name);
      this.deps.xenstore.dom0.transaction((tx) => {
        tx.write(`${homePath(domid)}/name`, name);
        tx.write(`/vm/${r.uuid}/name`, name);
      });
      this.events.emit('renamed', domid, from, name);
    });
  }

  // --- helpers ---------------------------------------------------------------------------------

  private refuse<T>(name: string, domid: number, options: { dom0: boolean }): Dom0Job<T> | undefined {
    if (options.dom0 && domid === 0) return this.deps.tasks.failed(name, new GuestError('EPERM', 'domain 0 cannot be the target of this operation', { domid }));
    if (this.deps.domains.get(domid) === undefined) return this.deps.tasks.failed(name, new GuestError('ESRCH', `domain ${domid} does not exist`, { domid }));
    return undefined;
  }

  private simple(name: string, domid: number, fn: () => void, options = { dom0: false }): Dom0Job<void> {
    const refused = this.refuse<void>(name, domid, options);
    if (refused) return refused;
    return this.deps.tasks.submit(name, function* (v) {
      hypercalls(v);
      fn();
    });
  }

  private xsUpdate(name: string, domid: number, fn: (r: DomainRecord) => void): Dom0Job<void> {
    const refused = this.refuse<void>(name, domid, { dom0: false });
    if (refused) return refused;
    const records = this.records;
    return this.deps.tasks.submit(name, function* (v) {
      const r = records.get(domid);
      if (r === undefined) throw new GuestError('ESRCH', `domain ${domid} was not built by the toolstack`, { domid });
      xenstoreOps(v, 2);
      fn(r);
    });
  }

  /** A random (version 4) UUID from the seeded generator: the same seed gives the same UUIDs. */
  private newUuid(): string {
    const b = new Uint8Array(16);
    for (let i = 0; i < 16; i++) b[i] = this.uuidRng.nextInt(256);
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = Buffer.from(b).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}
