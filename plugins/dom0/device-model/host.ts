/**
 * The device-model host: libxl's spawn of one QEMU per HVM/PVHVM guest. Each start is a Dom0 task that
 * creates the guest's ioreq server, builds its emulated platform and says so in xenstore
 * (`/local/domain/0/device-model/<domid>/state = running`); a guest destroyed underneath stops its model.
 */
import {
  GuestError,
  type Consoles,
  type DeviceModel,
  type DeviceModelHost,
  type DeviceModelInstance,
  type DeviceModelTrigger,
  type Dom0Job,
  type Dom0Tasks,
  type Domain,
  type DomainConfig,
  type DomainRegistry,
  type Engine,
  type GuestMode,
  type IoreqServers,
  type Logger,
  type XenstoreClient,
} from '../../../core/api/index.js';
import type { DomId } from '../../../core/public/index.js';
import { STARTUP_CYCLES } from './costs.js';
import { DeviceModelRun } from './instance.js';

/** What {@link DeviceModelHostService} is made from. */
export interface DeviceModelHostDeps {
  readonly servers: IoreqServers;
  readonly tasks: Dom0Tasks;
  readonly domains: DomainRegistry;
  readonly engine: Pick<Engine, 'at' | 'cancel' | 'now'>;
  /** Every registered device model, asked again at each start (plugins may come later). */
  readonly models: () => readonly DeviceModel[];
  readonly xenstore?: XenstoreClient;
  readonly consoles?: () => Pick<Consoles, 'attachSerial'> | undefined;
  readonly log: Logger;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const statePath = (domid: number): string => `/local/domain/0/device-model/${domid}`;

/** The host; `get` and `running` see models once their start task has finished. */
export class DeviceModelHostService implements DeviceModelHost {
  private readonly runs = new Map<number, DeviceModelRun>();
  /** Domains whose start task is queued or running. */
  private readonly starting = new Set<number>();
  private readonly onGone = (domid: DomId): void => this.stop(domid);
  private readonly onDying = (d: Domain): void => this.stop(d.domid);

  constructor(private readonly deps: DeviceModelHostDeps) {
    deps.domains.events.on('dying', this.onDying);
    deps.domains.events.on('destroyed', this.onGone);
  }

  start(domid: number, config: DomainConfig, mode: GuestMode): Dom0Job<DeviceModelInstance> {
    const name = `device-model: start dom${domid}`;
    if (this.runs.has(domid) || this.starting.has(domid)) return this.deps.tasks.failed(name, new GuestError('EEXIST', `device-model: dom${domid} has a device model already`, { domid }));
    if (mode !== 'hvm' && mode !== 'pvhvm') return this.deps.tasks.failed(name, new GuestError('EINVAL', `device-model: dom${domid} is ${mode}, not HVM: it has no device model`, { domid }));
    this.starting.add(domid);
    const job = this.deps.tasks.submit(name, (v) => {
      const self = this;
      return (function* () {
        if (!self.starting.delete(domid)) throw new GuestError('ESRCH', `device-model: dom${domid} went before its device model started`, { domid });
        v.compute(STARTUP_CYCLES);
        return self.launch(domid, config, mode);
      })();
    });
    job.onSettled((j) => {
      this.starting.delete(domid);
      if (j.error) this.deps.log.error(`dom${domid}: device model failed to start: ${j.error.message}`);
    });
    return job;
  }

  stop(domid: number): void {
    this.starting.delete(domid);
    const run = this.runs.get(domid);
    if (run === undefined) return;
    this.runs.delete(domid);
    run.stop();
    try {
      this.deps.xenstore?.rm(statePath(domid));
    } catch (error) {
      this.deps.log.warn(`dom${domid}: cannot remove ${statePath(domid)}: ${message(error)}`);
    }
    this.deps.log.info(`dom${domid}: device model stopped (${run.requests} ioreqs)`);
  }

  trigger(domid: number, kind: DeviceModelTrigger): void {
    const run = this.runs.get(domid);
    if (run === undefined) throw new GuestError('ESRCH', `device-model: dom${domid} has no running device model to send the ${kind} trigger to`, { domid });
    if (!run.trigger(kind)) throw new GuestError('EOPNOTSUPP', `device-model: no device of dom${domid} carries the ${kind} trigger (${run.devices.join(', ') || 'no devices'})`, { domid });
    this.deps.log.info(`dom${domid}: ${kind} trigger sent`);
  }

  get(domid: number): DeviceModelRun | undefined {
    return this.runs.get(domid);
  }

  /** Guests with a running device model, sorted. */
  running(): number[] {
    return [...this.runs.keys()].sort((a, b) => a - b);
  }

  /** Stops every model and the domain listeners (the plugin is disposed). */
  dispose(): void {
    this.deps.domains.events.off('dying', this.onDying);
    this.deps.domains.events.off('destroyed', this.onGone);
    for (const domid of [...this.runs.keys()]) this.stop(domid);
    this.starting.clear();
  }

  private launch(domid: number, config: DomainConfig, mode: GuestMode): DeviceModelRun {
    const { servers, tasks, engine, log, xenstore } = this.deps;
    const server = servers.create(domid);
    let run: DeviceModelRun;
    try {
      const shutdown = (reason: 'poweroff' | 'reboot'): void => this.deps.domains.shutdown(domid, reason);
      run = new DeviceModelRun(domid, config, mode, { server, tasks, engine, models: this.deps.models(), consoles: this.deps.consoles?.(), shutdown, log });
      run.createDevices();
    } catch (error) {
      server.destroy();
      throw error;
    }
    this.runs.set(domid, run);
    try {
      xenstore?.write(`${statePath(domid)}/state`, 'running');
    } catch (error) {
      log.warn(`dom${domid}: cannot write ${statePath(domid)}/state: ${message(error)}`);
    }
    log.info(`dom${domid}: device model running (${mode}): ${run.devices.join(', ') || 'no devices'}`);
    return run;
  }
}
