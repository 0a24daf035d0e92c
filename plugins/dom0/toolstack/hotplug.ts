/**
 * xl block-attach / block-detach / network-attach / network-detach: libxl's device add (both
 * directories in one transaction, then wait for the backend to reach InitWait or report an error) and
 * its generic remove (backend `online` = 0 and `state` = Closing, wait for Closed — forcing the removal
 * after a timeout, as libxl does — then both directories and the error node go).
 */
import { existsSync } from 'node:fs';
import {
  GuestError, type DiskSpec, type Dom0Job, type Dom0Tasks, type Engine, type Logger, type VcpuApi, type VifSpec, type XenstoreClient,
} from '../../../core/api/index.js';
import { XenbusState } from '../../../core/public/index.js';
import { xenstoreOps } from './costs.js';
import { diskBackend, virtualDevice, writeDisk, writeVif } from './devices.js';

export interface HotplugDeps {
  xenstore: XenstoreClient;
  tasks: Dom0Tasks;
  engine: Engine;
  log: Logger;
  /** A fresh MAC in 00:16:3e (from the seed). */
  mac: () => string;
  /** Virtual ns to wait for a backend (libxl's LIBXL_DESTROY_TIMEOUT / device add timeout: 10 s). */
  timeoutNs: number;
}

const home = (domid: number) => `/local/domain/${domid}`;

export class DeviceHotplug {
  constructor(private readonly deps: HotplugDeps) {}

  /** Adds disk `disk` (its image at absolute `file`) to `domid`; settles with its `virtual-device` number once the backend took it. */
  blockAttach(domid: number, disk: DiskSpec, file: string, pv: boolean): Dom0Job<number> {
    const name = `block-attach ${domid} ${disk.vdev}`;
    const vdev = virtualDevice(disk.vdev);
    const x = this.deps.xenstore;
    const fail = (errno: 'EINVAL' | 'EEXIST' | 'ENOENT', why: string) => this.deps.tasks.failed<number>(name, new GuestError(errno, why, { domid }));
    if (vdev === undefined) return fail('EINVAL', `${disk.vdev} is not a virtual device name (xvdX, hdX, sdX, dNpM)`);
    if (disk.target !== '' && !existsSync(file)) return fail('ENOENT', `disk ${disk.vdev}: image ${file} does not exist`);
    if (disk.format !== 'raw' && disk.format !== 'qcow2') return fail('EINVAL', `disk ${disk.vdev}: format ${disk.format} is not served (raw, qcow2)`);
    if (x.read(`${home(domid)}/device/vbd/${vdev}/state`) !== undefined) return fail('EEXIST', `disk ${disk.vdev} (${vdev}) is already attached to domain ${domid}`);
    const be = `/local/domain/0/backend/${diskBackend(disk, file).kind}/${domid}/${vdev}`;
    return this.add(name, domid, be, (v) => {
      xenstoreOps(v, x.transaction((tx) => writeDisk(tx, domid, disk, pv, file)));
      return vdev;
    });
  }

  /** Adds a NIC; settles with its devid. */
  networkAttach(domid: number, vif: VifSpec): Dom0Job<number> {
    const x = this.deps.xenstore;
    const taken = (x.directory(`${home(domid)}/device/vif`) ?? []).map(Number);
    const devid = vif.devid ?? (taken.length === 0 ? 0 : Math.max(...taken) + 1);
    const name = `network-attach ${domid} ${devid}`;
    if (taken.includes(devid)) return this.deps.tasks.failed(name, new GuestError('EEXIST', `vif ${devid} is already attached to domain ${domid}`, { domid }));
    const address = vif.mac ?? this.deps.mac();
    return this.add(name, domid, `/local/domain/0/backend/vif/${domid}/${devid}`, (v) => {
      xenstoreOps(v, x.transaction((tx) => writeVif(tx, domid, vif, devid, address)));
      return devid;
    });
  }

  /** Removes the disk named by its vdev (`xvdb`) or number (`51728`). */
  blockDetach(domid: number, dev: string): Dom0Job<void> {
    const vdev = /^\d+$/.test(dev) ? Number(dev) : virtualDevice(dev);
    return this.remove(`block-detach ${domid} ${dev}`, domid, vdev === undefined ? undefined : `${home(domid)}/device/vbd/${vdev}`, dev);
  }

  /** Removes the NIC named by its devid or MAC. */
  networkDetach(domid: number, dev: string): Dom0Job<void> {
    const x = this.deps.xenstore;
    const ids = x.directory(`${home(domid)}/device/vif`) ?? [];
    const id = /^\d+$/.test(dev) ? dev : ids.find((i) => x.read(`${home(domid)}/device/vif/${i}/mac`) === dev.toLowerCase());
    return this.remove(`network-detach ${domid} ${dev}`, domid, id === undefined ? undefined : `${home(domid)}/device/vif/${id}`, dev);
  }

  /** Writes the directories (`write`), then waits for the backend's InitWait or later, or its error. */
  private add(name: string, domid: number, be: string, write: (v: VcpuApi) => number): Dom0Job<number> {
    const { tasks, xenstore: x } = this.deps;
    const waiter = tasks.waiter<number>(name);
    tasks.submit(name, function* (v) {
      return write(v);
    }).onSettled((j) => {
      if (j.error) return waiter.reject(j.error);
      this.waitFor(be, (state, status) => {
        if (status === 'error') {
          const why = x.read(`/local/domain/0/error${be.slice('/local/domain/0'.length)}/error`) ?? 'the backend reported an error';
          waiter.reject(new GuestError('EIO', `${name}: ${why}`, { domid }));
          return true;
        }
        if (state >= XenbusState.InitWait && state <= XenbusState.Connected) {
          waiter.resolve(j.result!);
          return true;
        }
        return false;
      }, () => waiter.reject(new GuestError('ETIMEDOUT', `${name}: no backend answered within ${this.deps.timeoutNs / 1e9} s (is the backend plugin loaded?)`, { domid })));
    });
    return waiter.job;
  }

  private remove(name: string, domid: number, fe: string | undefined, dev: string): Dom0Job<void> {
    const { tasks, xenstore: x, log } = this.deps;
    const be = fe === undefined ? undefined : x.read(`${fe}/backend`);
    if (fe === undefined || be === undefined) return tasks.failed(name, new GuestError('ENOENT', `domain ${domid} has no device ${dev}`, { domid }));
    const waiter = tasks.waiter<void>(name);
    const rm = (v: VcpuApi) => {
      xenstoreOps(v, 3);
      x.transaction((tx) => {
        tx.rm(fe);
        tx.rm(be);
        tx.rm(`/local/domain/0/error${be.slice('/local/domain/0'.length)}`);
      });
    };
    tasks.submit(name, function* (v) {
      xenstoreOps(v, 2);
      x.transaction((tx) => {
        tx.write(`${be}/online`, '0');
        tx.write(`${be}/state`, String(XenbusState.Closing));
      });
    }).onSettled((j) => {
      if (j.error) return waiter.reject(j.error);
      const finish = (forced: boolean) => {
        if (forced) log.warn(`${name}: the backend did not close within ${this.deps.timeoutNs / 1e9} s; forcing the removal`);
        tasks.submit(`${name} (remove)`, function* (v) {
          rm(v);
        }).onSettled((r) => (r.error ? waiter.reject(r.error) : waiter.resolve()));
      };
      this.waitFor(be, (state) => {
        if (state !== XenbusState.Closed) return false;
        finish(false);
        return true;
      }, () => finish(true));
    });
    return waiter.job;
  }

  /** Watches `be`'s state (and hotplug-status) until `done` says so, or calls `timeout`. */
  private waitFor(be: string, done: (state: number, status: string | undefined) => boolean, timeout: () => void): void {
    const { xenstore: x, engine } = this.deps;
    let unwatch: (() => void) | undefined;
    let over = false;
    const timer = engine.after(this.deps.timeoutNs, () => {
      over = true;
      unwatch?.();
      timeout();
    });
    const look = () => {
      if (over) return;
      const state = Number(x.read(`${be}/state`) ?? XenbusState.Closed);
      if (done(state, x.read(`${be}/hotplug-status`))) {
        over = true;
        engine.cancel(timer);
        // The watch fires once at registration, inside watch(): then `unwatch` is not set yet and the check below ends it.
        unwatch?.();
      }
    };
    unwatch = x.watch(be, look);
    if (over) unwatch();
  }
}
