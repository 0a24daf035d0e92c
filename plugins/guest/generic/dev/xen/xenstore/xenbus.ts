/**
 * xenstore0 (the XenStore device on xenpv0) and xenbusb_front0 beneath it: starts the xenstore client,
 * dispatches watch events to their owners from the store port's handler, enumerates frontend devices
 * (no frontend drivers yet) and attaches the balloon (device balloon) and the control device.
 */
import type { VcpuRequest } from '../../../../../../core/api/index.js';
import { deviceAttach, deviceDetach, type Device, type Driver } from '../../../kern/bus.js';
import { blkfrontDriver } from '../blkfront/attach.js';
import { driverOf, type FrontendDriver } from '../frontend.js';
import { netfrontDriver } from '../netfront/attach.js';
import type { Kernel } from '../../../kern/kernel.js';
import type { RingLocation } from '../../../boot/init-ops.js';
import { balloonDriver } from '../balloon/balloon.js';
import { xctrlDriver } from '../control/control.js';
import { Xenstore, type WatchEvent } from './xenstore.js';

/** Watch owners by token. */
const watchers = new WeakMap<Kernel, Map<string, (event: WatchEvent) => Generator<VcpuRequest, void, unknown>>>();

/** Registers `fn` for events of a new watch on `path` and sends XS_WATCH; the token is `owner:path`. */
export function* addWatch(k: Kernel, path: string, owner: string, fn: (event: WatchEvent) => Generator<VcpuRequest, void, unknown>): Generator<VcpuRequest, void, unknown> {
  const token = `${owner}:${path}`;
  let map = watchers.get(k);
  if (map === undefined) watchers.set(k, (map = new Map()));
  map.set(token, fn);
  yield* k.xenstore!.watch(path, token);
}

/** Forgets the watch `addWatch(k, path, owner, ...)` set and sends XS_UNWATCH. */
export function* removeWatch(k: Kernel, path: string, owner: string): Generator<VcpuRequest, void, unknown> {
  const token = `${owner}:${path}`;
  if (watchers.get(k)?.delete(token) !== true) return;
  yield* k.xenstore!.unwatch(path, token);
}

/** Sends XS_WATCH again for every watch (a domain resumed elsewhere finds a xenstored that has none). */
export function* rewatchAll(k: Kernel): Generator<VcpuRequest, void, unknown> {
  for (const token of watchers.get(k)?.keys() ?? []) yield* k.xenstore!.watch(token.slice(token.indexOf(':') + 1), token);
}

/** Drains replies and watch events; runs each event's owner. */
function* storeHandler(k: Kernel, xs: Xenstore): Generator<VcpuRequest, boolean, unknown> {
  let worked = xs.service();
  for (let event = xs.nextWatchEvent(); event !== undefined; event = xs.nextWatchEvent()) {
    worked = true;
    const fn = watchers.get(k)?.get(event.token);
    if (fn === undefined) k.printf(`xenstore0: watch event for unknown token "${event.token}" (${event.path})`);
    else yield* fn(event);
  }
  return worked;
}

/** Frontend drivers by xenbus device type, and the kernel device they need. */
const FRONTENDS: Readonly<Record<string, FrontendDriver>> = { vbd: blkfrontDriver, vif: netfrontDriver };

/**
 * xenbusb_front0: watches `device` (as FreeBSD's xenbusb does) and attaches a driver to each frontend
 * device that appears — at boot and when the toolstack hot-plugs one — and forgets those removed.
 */
const xenbusbFrontDriver: Driver = {
  name: 'xenbusb_front',
  description: 'Xen Frontend Devices',
  *attach(k, bus) {
    const known = new Map<string, Device>();
    const missing = new Set<string>();
    const look = function* (node: string): Generator<VcpuRequest, void, unknown> {
      const [, type = '', id = ''] = node.split('/');
      const present = (yield* k.xenstore!.read(`${node}/state`)) !== undefined;
      const dev = known.get(node);
      if (present && dev === undefined) {
        const driver = FRONTENDS[type];
        if (driver === undefined || !k.hasDevice(driver.device)) {
          if (!missing.has(node)) k.printf(`${bus.nameunit}: no driver for ${type}/${id}`);
          missing.add(node);
          return;
        }
        known.set(node, yield* deviceAttach(k, bus, driver.driver(node)));
      } else if (!present && dev !== undefined) {
        known.delete(node);
        const instance = driverOf(dev);
        if (instance !== undefined) yield* instance.gone();
        deviceDetach(k, dev);
      }
    };
    yield* addWatch(k, 'device', bus.nameunit, function* (event) {
      const parts = event.path.split('/');
      if (parts[0] !== 'device') return;
      if (parts.length >= 3) {
        const node = parts.slice(0, 3).join('/');
        // Our own writes below a known device fire too: only its node's own events can mean it went.
        if (known.has(node) && parts.length > 3) return;
        if (parts[1] !== 'suspend') yield* look(node);
        return;
      }
      for (const type of (yield* k.xenstore!.directory('device')) ?? []) {
        if (type === 'suspend' || (parts.length === 2 && parts[1] !== type)) continue;
        for (const id of (yield* k.xenstore!.directory(`device/${type}`)) ?? []) yield* look(`device/${type}/${id}`);
      }
      for (const node of [...known.keys()]) if (parts.length === 1 || node.startsWith(`${event.path}/`)) yield* look(node);
    });
  },
};

/** The store ring's location is set by the boot code before attach. */
export function xenstoreDriver(ring: RingLocation): Driver {
  return {
    name: 'xenstore',
    description: 'XenStore',
    *attach(k, dev) {
      const xs = new Xenstore(k.v, k.events, ring);
      k.xenstore = xs;
      k.printf(`${dev.nameunit}: ring at frame 0x${ring.frame.toString(16)}, event channel ${ring.port}`);
      // A request waiting for its reply drains the ring itself and may queue watch events: they are due at once.
      const intr = k.bindIntr({ name: dev.nameunit, port: ring.port, handle: () => storeHandler(k, xs) });
      // Watch events waiting (a request's wait for its reply may queue some) make the handler due at once.
      xs.onWatchQueue = () => {
        intr.due = xs.pendingWatchEvents > 0 ? 1 : 0;
      };
      xs.onWatchQueue();
      const name = yield* xs.read('name');
      const domid = yield* xs.read('domid');
      k.printf(`${dev.nameunit}: domain "${name ?? '?'}", domid ${domid ?? '?'}`);
      if (name !== undefined) k.setHostname(name);
      yield* deviceAttach(k, dev, xenbusbFrontDriver);
      if (k.hasDevice('balloon')) yield* deviceAttach(k, dev, balloonDriver);
      yield* deviceAttach(k, dev, xctrlDriver);
    },
  };
}
