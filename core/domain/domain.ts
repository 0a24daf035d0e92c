/** A domain: identity, state, pause count, vCPUs, memory reservation, its hypervisor-side state and its child DI container. */
import type { DependencyContainer } from 'tsyringe';
import { HvmParams as HvmParamsToken, SharedInfoPage as SharedInfoPageToken, type Domain, type DomainState, type GuestMode, type HvmParams, type RunstateName, type SharedInfoPage, type ShutdownReason } from '../api/domain.js';
import { GuestMemory as GuestMemoryToken, P2m as P2mToken, type GuestMemory, type MachineMemory, type P2m } from '../api/memory.js';
import { GuestError } from '../api/errors.js';
import type { DomId, MachineFrame } from '../public/types.js';
import type { VcpuImpl, VcpuOwner } from '../cpu/vcpu.js';

/** What a domain tells its registry. */
export interface DomainHost {
  stateChanged(d: DomainImpl, from: DomainState, to: DomainState): void;
  vcpuCrashed(d: DomainImpl, v: VcpuImpl, error: unknown): void;
  /** Re-evaluates `v` after a pause change (the CPU pool's `update`). */
  updateVcpu(v: VcpuImpl, wasRunnable: boolean): void;
}

export interface DomainInit {
  domid: DomId;
  name: string;
  privileged: boolean;
  mode: GuestMode;
  maxPages: number;
  /** The container the domain's own is made a child of (on first use). */
  parentContainer: DependencyContainer;
  memory: MachineMemory;
  host: DomainHost;
}

const isActive = (s: RunstateName): boolean => s === 'running' || s === 'runnable';
/** The two states of a live, unpaused domain that has not shut down. */
const isLive = (s: DomainState): boolean => s === 'running' || s === 'blocked';

/** The hypervisor-side state the core gives a domain at creation ({@link DomainImpl.attachState}). */
export interface DomainArchState {
  readonly p2m: P2m;
  readonly guestMemory: GuestMemory;
  readonly sharedInfo: SharedInfoPage;
  readonly hvmParams: HvmParams;
}

export class DomainImpl implements Domain, VcpuOwner {
  readonly domid: DomId;
  name: string;
  readonly privileged: boolean;
  readonly mode: GuestMode;
  p2m!: P2m;
  guestMemory!: GuestMemory;
  sharedInfo!: SharedInfoPage;
  hvmParams!: HvmParams;
  readonly vcpus: VcpuImpl[] = [];
  pauseCount = 0;
  shutdownReason: ShutdownReason | undefined = undefined;
  totPages = 0;
  maxPages: number;
  /** Set by the registry while it tears the domain down. */
  lifecycle: 'live' | 'dying' | 'dead' = 'live';
  private activeVcpus = 0;
  private current: DomainState;
  private readonly memory: MachineMemory;
  private readonly host: DomainHost;
  private readonly parentContainer: DependencyContainer;
  private child: DependencyContainer | undefined;
  private containerDisposed = false;

  constructor(init: DomainInit) {
    this.domid = init.domid;
    this.name = init.name;
    this.privileged = init.privileged;
    this.mode = init.mode;
    this.maxPages = init.maxPages;
    this.parentContainer = init.parentContainer;
    this.memory = init.memory;
    this.host = init.host;
    this.current = this.computeState();
  }

  get state(): DomainState {
    return this.current;
  }

  /** Sets the domain's hypervisor-side state (once, at creation); registered in its container too. */
  attachState(state: DomainArchState): void {
    this.p2m = state.p2m;
    this.guestMemory = state.guestMemory;
    this.sharedInfo = state.sharedInfo;
    this.hvmParams = state.hvmParams;
    if (this.child !== undefined) this.registerState(this.child);
  }

  get container(): DependencyContainer {
    if (this.child === undefined) {
      if (this.containerDisposed) throw new Error(`dom${this.domid} has been destroyed: its container is disposed`);
      this.child = this.parentContainer.createChildContainer();
      if (this.p2m !== undefined) this.registerState(this.child);
    }
    return this.child;
  }

  /** Disposes the domain's container, if it was ever made; later uses throw, as tsyringe's own do. */
  disposeContainer(): Promise<void> | void {
    this.containerDisposed = true;
    return this.child?.dispose();
  }

  private registerState(c: DependencyContainer): void {
    c.registerInstance(P2mToken, this.p2m);
    c.registerInstance(GuestMemoryToken, this.guestMemory);
    c.registerInstance(SharedInfoPageToken, this.sharedInfo);
    c.registerInstance(HvmParamsToken, this.hvmParams);
  }

  private computeState(): DomainState {
    if (this.lifecycle !== 'live') return this.lifecycle;
    if (this.shutdownReason !== undefined) return 'shutdown';
    if (this.pauseCount > 0) return 'paused';
    return this.activeVcpus > 0 ? 'running' : 'blocked';
  }

  /** Recomputes the state and reports a change (of lifecycle, pause or shutdown: see {@link vcpuRunstateChanged}). */
  refreshState(): void {
    const next = this.computeState();
    if (next === this.current) return;
    const from = this.current;
    this.current = next;
    this.host.stateChanged(this, from, next);
  }

  // --- VcpuOwner -------------------------------------------------------------------------------

  vcpuRunstateChanged(_v: VcpuImpl, from: RunstateName, to: RunstateName): void {
    const delta = (isActive(to) ? 1 : 0) - (isActive(from) ? 1 : 0);
    if (delta === 0) return;
    this.activeVcpus += delta;
    // While live, unpaused and not shut down, the state follows the vCPUs without a report: Xen raises
    // nothing when a domain's vCPUs sleep or wake (`xl list` reads their flags when asked), and an idle
    // guest does both on every timer tick.
    if (isLive(this.current)) this.current = this.activeVcpus > 0 ? 'running' : 'blocked';
  }

  vcpuCrashed(v: VcpuImpl, error: unknown): void {
    this.host.vcpuCrashed(this, v, error);
  }

  // --- pause (Xen's domain_pause / domain_unpause) ---------------------------------------------

  pause(): void {
    const was = this.vcpus.map((v) => v.runnable);
    this.pauseCount++;
    this.vcpus.forEach((v, i) => this.host.updateVcpu(v, was[i]!));
    this.refreshState();
  }

  unpause(): void {
    if (this.pauseCount === 0) throw new GuestError('EINVAL', `dom${this.domid} is not paused`, { domid: this.domid });
    const was = this.vcpus.map((v) => v.runnable);
    this.pauseCount--;
    this.vcpus.forEach((v, i) => this.host.updateVcpu(v, was[i]!));
    this.refreshState();
  }

  // --- memory reservation ----------------------------------------------------------------------

  allocatePages(count: number): MachineFrame[] {
    if (!Number.isInteger(count) || count < 0) throw new GuestError('EINVAL', `dom${this.domid}: cannot allocate ${count} pages`, { domid: this.domid });
    if (this.lifecycle !== 'live') throw new GuestError('EINVAL', `dom${this.domid} is ${this.lifecycle}`, { domid: this.domid });
    if (this.totPages + count > this.maxPages) {
      throw new GuestError('E2BIG', `dom${this.domid}: over-allocation: ${this.totPages} + ${count} pages > max_pages ${this.maxPages}`, { domid: this.domid });
    }
    const frames = this.memory.allocate(this.domid, count);
    this.totPages += count;
    return frames;
  }

  allocateExtent(order: number): MachineFrame {
    const count = 2 ** order;
    if (this.lifecycle !== 'live') throw new GuestError('EINVAL', `dom${this.domid} is ${this.lifecycle}`, { domid: this.domid });
    if (this.totPages + count > this.maxPages) {
      throw new GuestError('E2BIG', `dom${this.domid}: over-allocation: ${this.totPages} + ${count} pages > max_pages ${this.maxPages}`, { domid: this.domid });
    }
    const first = this.memory.allocateExtent(this.domid, order);
    this.totPages += count;
    return first;
  }

  freePage(mfn: MachineFrame): void {
    this.memory.free(this.domid, mfn);
    this.totPages--;
  }

  setMaxPages(pages: number): void {
    if (!Number.isInteger(pages) || pages < 0) throw new GuestError('EINVAL', `dom${this.domid}: max_pages must be a non-negative integer, got ${pages}`, { domid: this.domid });
    this.maxPages = pages;
  }

  /** Returns every frame to the host (domain_relinquish_resources). */
  releaseMemory(): number {
    const freed = this.memory.releaseAll(this.domid);
    this.totPages = 0;
    return freed;
  }

  /** One `xl list` line. */
  dump(): string {
    const flags = `${this.state}${this.shutdownReason !== undefined ? `(${this.shutdownReason})` : ''}`;
    return `${this.name.padEnd(16)} ${String(this.domid).padStart(5)} ${this.mode.padEnd(5)} vcpus ${this.vcpus.length}  pages ${this.totPages}/${this.maxPages}  ${flags}${this.pauseCount > 0 ? ` pause ${this.pauseCount}` : ''}`;
  }
}
