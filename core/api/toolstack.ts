/**
 * The toolstack (libxl's job): builds domains from their configuration, keeps their xenstore homes,
 * carries out lifecycle actions, and answers the `xeno` CLI through the control socket. The `toolstack`
 * plugin provides it. Every operation is Dom0 work: it returns a {@link Dom0Job} that settles in virtual
 * time, after the hypercalls and xenstore writes it made were charged to Dom0's vCPUs.
 */
import type { EventEmitter } from 'eventemitter3';
import type { DomainAction, DomainConfig } from '../config/domain-config.js';
import type { Dom0Job } from './dom0.js';
import type { GuestType } from './guest-kernel.js';
import { token } from './tokens.js';

export type { DomainAction, DomainConfig } from '../config/domain-config.js';
export type { DiskSpec } from '../config/diskspec.js';
export type { VifSpec } from '../config/vifspec.js';
import type { DiskSpec } from '../config/diskspec.js';
import type { VifSpec } from '../config/vifspec.js';
export type { PciSpec } from '../config/pcispec.js';

/** A shared page the builder set up for the guest, and the guest's end of its event channel. */
export interface GuestChannel {
  /** Guest frame of the page (what `ring-ref` holds for the console and `store/ring-ref` for xenstore). */
  gfn: number;
  /** The guest's port. */
  port: number;
}

/** What the toolstack knows of a domain it built. */
export interface ToolstackDomain {
  readonly domid: number;
  readonly name: string;
  readonly uuid: string;
  readonly type: GuestType;
  /** The configuration it was built from (the file's path is in `config.source`). */
  readonly config: DomainConfig;
  readonly console: GuestChannel;
  readonly store: GuestChannel;
  /** Virtual time the build finished, ns. */
  readonly startTime: number;
  /** The balloon target (`memory/target`), KiB. */
  readonly targetKiB: number;
  /** `memory/static-max`, KiB. */
  readonly maxKiB: number;
  /** What the configuration asked for that the build could not honour (also logged as warnings). */
  readonly warnings: readonly string[];
}

/** Why a domain stopped and what the toolstack did about it (its config's on_poweroff / on_reboot / ...). */
export interface ShutdownHandled {
  domid: number;
  name: string;
  /** poweroff, reboot, suspend, crash, watchdog, soft_reset. */
  reason: string;
  action: DomainAction;
  /** With restart / rename-restart: the new domain's id. */
  newDomid?: number;
}

export interface ToolstackEvents {
  created: [domain: ToolstackDomain];
  shutdown: [handled: ShutdownHandled];
  destroyed: [domid: number, name: string];
  renamed: [domid: number, from: string, to: string];
}

/** What `shutdown` asks the guest to do through `control/shutdown`. */
export type ShutdownRequest = 'poweroff' | 'reboot' | 'halt' | 'suspend' | 'crash';

/** How `shutdown` may reach a guest without PV control (xl's `-F`). */
export interface ShutdownOptions {
  /**
   * xl shutdown/reboot `-F`: when the guest has no PV control interface (an HVM guest whose
   * HVM_PARAM_CALLBACK_IRQ is 0), fall back to the device model's ACPI power button (poweroff) or
   * reset (reboot), and settle once the trigger was sent.
   */
  force?: boolean;
}

export interface Toolstack {
  readonly events: EventEmitter<ToolstackEvents>;
  /** Domains built by the toolstack and not yet destroyed, by domid. */
  list(): ToolstackDomain[];
  get(domid: number): ToolstackDomain | undefined;
  /** A domain by name, or by id given as decimal text, as xl's commands accept either. */
  find(nameOrId: string): ToolstackDomain | undefined;
  /** Builds and starts a domain (paused if asked). Fails naming the config file and key on bad input. */
  create(config: DomainConfig, options?: { paused?: boolean }): Dom0Job<ToolstackDomain>;
  /** Destroys at once (xl destroy): every page, channel, grant and xenstore node returns. */
  destroy(domid: number): Dom0Job<void>;
  /**
   * Writes `control/shutdown`; the guest acts on it. Settles when the guest acknowledged it (or 60 s of
   * virtual time passed: ETIMEDOUT). An HVM guest without PV control (libxl__domain_pvcontrol_available)
   * fails with xl's "PV control interface not available" message (EOPNOTSUPP), unless `force` sends
   * the ACPI power-button or reset trigger instead.
   */
  shutdown(domid: number, request: ShutdownRequest, options?: ShutdownOptions): Dom0Job<void>;
  pause(domid: number): Dom0Job<void>;
  unpause(domid: number): Dom0Job<void>;
  /** xl mem-set: the balloon target, KiB. */
  memSet(domid: number, kib: number): Dom0Job<void>;
  /** xl mem-max: the most memory the domain may have, KiB. */
  memMax(domid: number, kib: number): Dom0Job<void>;
  /** xl vcpu-set: vCPUs 0..n-1 online, the rest offline (`cpu/<n>/availability`). */
  vcpuSet(domid: number, count: number): Dom0Job<void>;
  /** xl vcpu-pin: vCPU's hard affinity, as a cpulist (`0-3,^1`, `all`). */
  vcpuPin(domid: number, vcpu: number | 'all', cpus: string): Dom0Job<void>;
  rename(domid: number, name: string): Dom0Job<void>;
  /**
   * xl dump-core: the domain's memory, vCPU contexts and shared info as a xen dump-core (ELF) file;
   * the domain is paused while it is written, as libxl does. Resolves to the file, its pages and size.
   */
  dumpCore(domid: number, file: string): Dom0Job<CoreDumpInfo>;
  /**
   * xl block-attach: `disk`'s directories for `domid` (its image resolved against `cwd`); settles with the
   * `virtual-device` number once the backend took it (InitWait or later). EEXIST for a vdev in use, ENOENT
   * for a missing image, EIO with the backend's error, ETIMEDOUT when no backend answers.
   */
  blockAttach(domid: number, disk: DiskSpec, cwd: string): Dom0Job<number>;
  /** xl block-detach: by vdev name (`xvdb`) or number; the backend closes, then both directories go (forced after a timeout). */
  blockDetach(domid: number, dev: string): Dom0Job<void>;
  /** xl network-attach: settles with the vif's devid. */
  networkAttach(domid: number, vif: VifSpec): Dom0Job<number>;
  /** xl network-detach: by devid or MAC. */
  networkDetach(domid: number, dev: string): Dom0Job<void>;
}

/** What {@link Toolstack.dumpCore} wrote. */
export interface CoreDumpInfo {
  readonly file: string;
  readonly pages: number;
  readonly bytes: number;
}
export const Toolstack = token<Toolstack>('Toolstack');
