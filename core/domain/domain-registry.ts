/** The domain registry: domid allocation, create/destroy, pause/unpause, shutdown, lookups, events and trace. */
import type { DependencyContainer } from 'tsyringe';
import { EventEmitter } from 'eventemitter3';
import {
  DOMAIN_STATE_CODE,
  GUEST_MODES,
  SHUTDOWN,
  type Domain,
  type DomainCreateOptions,
  type DomainEvents,
  type DomainRegistry,
  type DomainState,
  type ShutdownReason,
} from '../api/domain.js';
import type { HypercallDispatcher } from '../api/hypercall.js';
import type { MachineMemory } from '../api/memory.js';
import type { Logger } from '../api/log.js';
import { GuestError } from '../api/errors.js';
import type { Engine } from '../engine/engine.js';
import { TraceKind } from '../engine/trace.js';
import { DOMID_FIRST_RESERVED } from '../public/xen.js';
import { domId, vcpuId, type DomId } from '../public/types.js';
import { VcpuImpl } from '../cpu/vcpu.js';
import type { CpuPoolImpl } from '../cpu/cpupool.js';
import { DomainImpl, type DomainHost } from './domain.js';

/** The most vCPUs a domain may have here (Xen's HVM_MAX_VCPUS). */
export const MAX_VCPUS_PER_DOMAIN = 128;

export interface DomainRegistryDeps {
  engine: Engine;
  pool: CpuPoolImpl;
  memory: MachineMemory;
  /** The host's container; each domain gets a child of it. */
  container: DependencyContainer;
  log: Logger;
  /** Where vCPU programs' hypercalls go; without one they return −ENOSYS. */
  dispatcher?: HypercallDispatcher;
}

export class DomainRegistryImpl implements DomainRegistry, DomainHost {
  readonly events = new EventEmitter<DomainEvents>();
  private readonly domains = new Map<number, DomainImpl>();
  /** The last domid handed out (Xen's `rover`). */
  private rover = 0;
  private readonly engine: Engine;
  private readonly pool: CpuPoolImpl;
  private readonly memory: MachineMemory;
  private readonly container: DependencyContainer;
  private readonly log: Logger;
  private readonly dispatcher: HypercallDispatcher | null;

  constructor(deps: DomainRegistryDeps) {
    this.engine = deps.engine;
    this.pool = deps.pool;
    this.memory = deps.memory;
    this.container = deps.container;
    this.log = deps.log;
    this.dispatcher = deps.dispatcher ?? null;
  }

  // --- helpers ---------------------------------------------------------------------------------

  private isFree(domid: number): boolean {
    return !this.domains.has(domid);
  }

  /** Xen's allocation: upwards from the last domid handed out, wrapping below DOMID_FIRST_RESERVED, never 0. */
  private allocateDomid(): DomId {
    let d = this.rover;
    for (let tries = 1; tries < DOMID_FIRST_RESERVED; tries++) {
      d = d + 1 >= DOMID_FIRST_RESERVED ? 1 : d + 1;
      if (this.isFree(d)) {
        this.rover = d;
        return domId(d);
      }
    }
    throw new GuestError('ENOMEM', `no free domid below ${DOMID_FIRST_RESERVED}`);
  }

  private chooseDomid(requested: number | undefined): DomId {
    if (requested === undefined) return this.allocateDomid();
    if (!Number.isInteger(requested) || requested < 0 || requested >= DOMID_FIRST_RESERVED) {
      throw new GuestError('EINVAL', `domid ${requested} is not below DOMID_FIRST_RESERVED (0x${DOMID_FIRST_RESERVED.toString(16)})`);
    }
    if (!this.isFree(requested)) throw new GuestError('EEXIST', `domid ${requested} is in use`, { domid: requested });
    return domId(requested);
  }

  private record(d: DomainImpl, from: DomainState | undefined, to: DomainState): void {
    const reason = d.shutdownReason === undefined ? 0 : SHUTDOWN[d.shutdownReason];
    this.engine.trace.record(this.engine.now, TraceKind.DomainState, d.domid, 0, DOMAIN_STATE_CODE[to], reason, from === undefined ? -1 : DOMAIN_STATE_CODE[from]);
  }

  // --- DomainHost ------------------------------------------------------------------------------

  stateChanged(d: DomainImpl, from: DomainState, to: DomainState): void {
    if (this.domains.get(d.domid) !== d && d.lifecycle !== 'dead') return;
    this.record(d, from, to);
    this.events.emit('stateChanged', d, from, to);
  }

  vcpuCrashed(d: DomainImpl, v: VcpuImpl, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.log.error(`dom${d.domid} vcpu${v.vcpuId}: ${message}; domain crashed`);
    this.shutdown(d.domid, 'crash');
  }

  updateVcpu(v: VcpuImpl, wasRunnable: boolean): void {
    this.pool.update(v, wasRunnable);
  }

  // --- operations ------------------------------------------------------------------------------

  create(options: DomainCreateOptions = {}): Domain {
    const nrVcpus = options.vcpus ?? 1;
    if (!Number.isInteger(nrVcpus) || nrVcpus < 1 || nrVcpus > MAX_VCPUS_PER_DOMAIN) throw new GuestError('EINVAL', `vcpus must be 1..${MAX_VCPUS_PER_DOMAIN}, got ${nrVcpus}`);
    const mode = options.mode ?? 'pv';
    if (!GUEST_MODES.includes(mode)) throw new GuestError('EINVAL', `unknown guest mode "${String(mode)}" (known: ${GUEST_MODES.join(', ')})`);
    const maxPages = options.maxPages ?? 0;
    if (!Number.isInteger(maxPages) || maxPages < 0) throw new GuestError('EINVAL', `maxPages must be a non-negative integer, got ${maxPages}`);
    const affinity = options.affinity ?? this.pool.cpus;
    if (!affinity.intersects(this.pool.cpus)) throw new GuestError('EINVAL', `affinity ${affinity} has no pCPU of the pool (${this.pool.cpus})`);
    const domid = this.chooseDomid(options.domid);
    const d = new DomainImpl({
      domid,
      name: options.name ?? `Domain-${domid}`,
      privileged: domid === 0,
      mode,
      maxPages,
      parentContainer: this.container,
      memory: this.memory,
      host: this,
    });
    if (options.paused !== false) d.pauseCount = 1;
    this.pool.insertDomain(domid);
    for (let i = 0; i < nrVcpus; i++) {
      const v = new VcpuImpl(d, vcpuId(i), this.engine.cost, affinity, this.dispatcher, this.pool.quantum);
      d.vcpus.push(v);
      this.pool.insertVcpu(v);
    }
    d.refreshState();
    this.domains.set(domid, d);
    if ((options.pages ?? 0) > 0) {
      try {
        d.allocatePages(options.pages!);
      } catch (error) {
        this.teardown(d);
        throw error;
      }
    }
    this.record(d, undefined, d.state);
    this.events.emit('created', d);
    return d;
  }

  destroy(domid: number): void {
    const d = this.lookupImpl(domid);
    if (d.domid === 0) throw new GuestError('EPERM', 'dom0 cannot be destroyed', { domid: 0 });
    if (d.lifecycle !== 'live') return;
    d.lifecycle = 'dying';
    d.refreshState();
    this.events.emit('dying', d);
    this.teardown(d);
    d.lifecycle = 'dead';
    d.refreshState();
    this.events.emit('destroyed', d.domid);
  }

  /** Stops vCPUs, frees memory, disposes the container and frees the domid. */
  private teardown(d: DomainImpl): void {
    for (const v of d.vcpus) this.pool.removeVcpu(v);
    this.pool.removeDomain(d.domid);
    d.releaseMemory();
    const disposing = d.disposeContainer();
    if (disposing instanceof Promise) disposing.catch((error: unknown) => this.log.error(`dom${d.domid}: container dispose failed: ${String(error)}`));
    this.domains.delete(d.domid);
  }

  pause(domid: number): void {
    this.lookupImpl(domid).pause();
  }

  unpause(domid: number): void {
    this.lookupImpl(domid).unpause();
  }

  shutdown(domid: number, reason: ShutdownReason): void {
    const d = this.lookupImpl(domid);
    if (!(reason in SHUTDOWN)) throw new GuestError('EINVAL', `unknown shutdown reason "${String(reason)}"`, { domid });
    if (d.shutdownReason !== undefined || d.lifecycle !== 'live') return;
    d.shutdownReason = reason;
    this.log.info(`dom${domid}: shutdown (${reason})`);
    d.pause();
  }

  // --- lookups ---------------------------------------------------------------------------------

  private lookupImpl(domid: number): DomainImpl {
    const d = this.domains.get(domid);
    if (d === undefined) throw new GuestError('ESRCH', `no domain ${domid}`, { domid });
    return d;
  }

  get(domid: number): Domain | undefined {
    return this.domains.get(domid);
  }

  lookup(domid: number): Domain {
    return this.lookupImpl(domid);
  }

  rename(domid: number, name: string): void {
    this.lookupImpl(domid).name = name;
  }

  list(): Domain[] {
    return [...this.domains.values()].sort((a, b) => a.domid - b.domid);
  }

  get size(): number {
    return this.domains.size;
  }

  // --- debug dump ------------------------------------------------------------------------------

  dump(): string {
    return ['Name              ID   mode  ...', ...this.list().map((d) => (d as DomainImpl).dump())].join('\n');
  }
}
