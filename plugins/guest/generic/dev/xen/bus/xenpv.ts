/** xenpv0: the Xen PV bus on nexus0, parent of the top-level Xen devices (console, xenstore). */
import { deviceAttach, type Driver } from '../../../kern/bus.js';
import type { RingLocation } from '../../../boot/init-ops.js';
import { xcDriver } from '../console/xc_driver.js';
import { xenstoreDriver } from '../xenstore/xenbus.js';

export function xenpvDriver(rings: { store: RingLocation; console: RingLocation }): Driver {
  return {
    name: 'xenpv',
    description: 'Xen PV bus',
    *attach(k, dev) {
      yield* deviceAttach(k, dev, xcDriver(rings.console));
      yield* deviceAttach(k, dev, xenstoreDriver(rings.store));
    },
  };
}
