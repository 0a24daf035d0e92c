/**
 * Hypervisor subsystems (event channels, grant tables, memory ops, scheduling ops, platform ops):
 * each is made by a factory from the context below, registers its hypercall handlers, follows domain
 * lifecycle through the registry's events, and exposes its in-core API under a token in `container`.
 */
import type { DependencyContainer } from 'tsyringe';
import type { HvmParams, SharedInfoPage } from '../api/domain.js';
import type { Logger } from '../api/log.js';
import type { Engine } from '../engine/engine.js';
import type { HostMachineMemory, EptP2m } from '../memory/index.js';
import type { DomainRegistryImpl } from '../domain/index.js';
import type { CpuPoolImpl } from '../cpu/index.js';
import type { HypercallTableImpl } from '../hypercall/index.js';
import type { TimerService } from '../timer/index.js';
import type { VcpuGuestAccess } from '../mmu/index.js';

/** What a subsystem may use. Per-domain state is looked up by domid; it exists from `created` until `destroyed`. */
export interface HypervisorContext {
  readonly engine: Engine;
  readonly memory: HostMachineMemory;
  readonly domains: DomainRegistryImpl;
  readonly pool: CpuPoolImpl;
  readonly hypercalls: HypercallTableImpl;
  readonly timers: TimerService;
  /** The host's root container: a subsystem registers its in-core API here; others resolve it lazily. */
  readonly container: DependencyContainer;
  readonly log: Logger;
  /** The machine definition's paging for HVM and PVH guests (`hap` or `shadow`; default `hap`). */
  readonly hvmPaging?: string;
  p2mOf(domid: number): EptP2m | undefined;
  sharedInfoOf(domid: number): SharedInfoPage | undefined;
  hvmParamsOf(domid: number): HvmParams | undefined;
  guestAccessOf(domid: number, vcpu: number): VcpuGuestAccess | undefined;
}

/** A running subsystem. */
export interface Subsystem {
  readonly name: string;
  /** A debug dump (Xen's keyhandlers). */
  dump?(): string;
  /** Undoes what the factory registered. */
  dispose?(): void;
}

export type SubsystemFactory = (ctx: HypervisorContext) => Subsystem;
