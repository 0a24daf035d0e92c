/**
 * xenpv0: the Xen PV bus on nexus0, parent of the top-level Xen devices: the console, the PV timer,
 * /dev/xen/evtchn and xenstore (under which control, balloon and the frontends attach). A device
 * the kernel configuration lacks is not attached at all.
 */
import { deviceAttach, type Driver } from '../../../kern/bus.js';
import type { RingLocation } from '../../../boot/init-ops.js';
import { xcDriver } from '../console/xc_driver.js';
import { evtchnDriver } from '../evtchn/evtchn_cmd.js';
import { xentimerDriver } from '../timer/timer.js';
import { xenstoreDriver } from '../xenstore/xenbus.js';

export function xenpvDriver(rings: { store: RingLocation; console: RingLocation }): Driver {
  return {
    name: 'xenpv',
    description: 'Xen PV bus',
    *attach(k, dev) {
      yield* deviceAttach(k, dev, xcDriver(rings.console));
      if (k.hasDevice('xentimer')) yield* deviceAttach(k, dev, xentimerDriver);
      if (k.hasDevice('evtchn')) yield* deviceAttach(k, dev, evtchnDriver);
      yield* deviceAttach(k, dev, xenstoreDriver(rings.store));
    },
  };
}
