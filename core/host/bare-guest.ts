/**
 * Guests without a toolstack: the core domain a definition's guest gets when no toolstack plugin is
 * enabled — vCPUs with their affinity, `memory` populated at guest frames 0.., room up to `maxmem`, the
 * xl.cfg limits on hypervisor resources — for workload plugins to run. No boot protocol, no devices.
 */
import { TraceKind } from '../engine/index.js';
import { P2mType } from '../api/memory.js';
import type { Domain, DomainCreateOptions, DomainRegistry, GuestMode } from '../api/domain.js';
import { CpuMask } from '../api/scheduler.js';
import type { EventChannels } from '../api/event-channel.js';
import type { GrantTables } from '../api/grant-table.js';
import type { Engine } from '../engine/engine.js';
import type { EptP2m } from '../memory/index.js';
import type { CpuSet, DomainConfig } from '../config/index.js';
import { PAGE_SIZE } from '../public/memory.js';
import { guestFrame } from '../public/types.js';

/** What building a bare guest needs of the host. */
export interface BareGuestHost {
  engine: Engine;
  domains: DomainRegistry;
  p2mOf(domid: number): EptP2m | undefined;
  evtchn(): EventChannels;
  gnttab(): GrantTables;
}

/** A cpulist as a mask, or undefined for all CPUs. */
export function cpuMaskOf(set: CpuSet): CpuMask | undefined {
  return set === 'all' ? undefined : CpuMask.of(...set);
}

/** Gives `d` `pages` fresh frames at guest frames 0.. and records it in the trace. */
export function populateFrom0(host: Pick<BareGuestHost, 'engine' | 'p2mOf'>, d: Domain, pages: number): void {
  const frames = d.allocatePages(pages);
  const p2m = host.p2mOf(d.domid)!;
  frames.forEach((mfn, gfn) => p2m.set(guestFrame(gfn), mfn, P2mType.ram_rw));
  host.engine.trace.record(host.engine.now, TraceKind.DomainState, d.domid, 0, 0x100, pages);
}

/** Creates and unpauses a bare guest; a failure destroys what was made and rethrows. */
export function createBareGuest(host: BareGuestHost, config: DomainConfig): Domain {
  const options: DomainCreateOptions = {
    name: config.name,
    mode: guestModeOf(config),
    vcpus: config.maxvcpus ?? config.vcpus,
    maxPages: Math.floor((config.maxmemBytes ?? config.memoryBytes) / PAGE_SIZE),
    pages: 0,
    paused: true,
  };
  const all = cpuMaskOf(config.cpus.all);
  if (all) options.affinity = all;
  const d = host.domains.create(options);
  try {
    populateFrom0(host, d, Math.floor(config.memoryBytes / PAGE_SIZE));
    if (config.maxEventChannels !== undefined) host.evtchn().setMaxPorts(d.domid, config.maxEventChannels);
    if (config.maxGrantFrames !== undefined) host.gnttab().setMaxFrames(d.domid, config.maxGrantFrames);
    if (config.maxMaptrackFrames !== undefined) host.gnttab().setMaxMaptrackFrames(d.domid, config.maxMaptrackFrames);
    config.cpus.perVcpu.forEach((set, v) => {
      const mask = cpuMaskOf(set);
      if (mask && d.vcpus[v]) d.vcpus[v].setHardAffinity(mask);
    });
    for (let v = config.vcpus; v < d.vcpus.length; v++) d.vcpus[v]!.down();
    host.domains.unpause(d.domid);
  } catch (error) {
    host.domains.destroy(d.domid);
    throw error;
  }
  return d;
}

function guestModeOf(config: DomainConfig): GuestMode {
  return config.type === 'pv' ? 'pv' : config.type === 'pvh' ? 'pvh' : 'hvm';
}
