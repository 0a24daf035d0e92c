/**
 * xctrl: the Xen control device (FreeBSD's dev/xen/control/control.c). Advertises what it supports in
 * control/feature-*, watches control/shutdown, acknowledges a request by writing "" back, then acts.
 */
import type { VcpuRequest } from '../../../../../../core/api/index.js';
import { kernReboot, panic, type HowTo } from '../../../kern/kern_shutdown.js';
import type { Driver } from '../../../kern/bus.js';
import type { Kernel } from '../../../kern/kernel.js';
import { addWatch } from '../xenstore/xenbus.js';

export const SHUTDOWN_NODE = 'control/shutdown';
const FEATURES = ['feature-poweroff', 'feature-reboot', 'feature-suspend'];

/** What each control/shutdown value does. */
const ACTIONS: Readonly<Record<string, HowTo | 'suspend'>> = {
  poweroff: 'poweroff',
  halt: 'halt',
  reboot: 'reboot',
  crash: 'crash',
  suspend: 'suspend',
};

function* onShutdownWatch(k: Kernel, name: string): Generator<VcpuRequest, void, unknown> {
  const xs = k.xenstore!;
  const request = yield* xs.read(SHUTDOWN_NODE);
  if (request === undefined || request === '') return;
  yield* xs.write(SHUTDOWN_NODE, '');
  const action = ACTIONS[request];
  if (action === undefined) {
    k.printf(`${name}: unknown shutdown request "${request}"`);
    return;
  }
  k.printf(`${name}: ${request} requested`);
  if (action === 'suspend') {
    k.printf(`${name}: suspend not supported`);
    return;
  }
  if (action === 'crash') yield* panic(k, 'Xen directed crash');
  yield* kernReboot(k, action);
}

export const xctrlDriver: Driver = {
  name: 'xctrl',
  description: 'Xen Control Device',
  *attach(k, dev) {
    const xs = k.xenstore!;
    for (const feature of FEATURES) yield* xs.write(`control/${feature}`, '1');
    yield* addWatch(k, SHUTDOWN_NODE, dev.nameunit, () => onShutdownWatch(k, dev.nameunit));
  },
};
