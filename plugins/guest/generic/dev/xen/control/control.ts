/**
 * xctrl: the Xen control device (FreeBSD's dev/xen/control/control.c). Advertises what it supports in
 * control/feature-*, watches control/shutdown, acknowledges a request by writing "" back, then acts:
 * poweroff, halt, reboot, crash, or suspend.
 */
import type { VcpuRequest } from '../../../../../../core/api/index.js';
import { kernReboot, panic, type HowTo } from '../../../kern/kern_shutdown.js';
import type { Driver } from '../../../kern/bus.js';
import type { Kernel } from '../../../kern/kernel.js';
import { PAGE_SIZE, PvStartInfo } from '../../../../../../core/public/index.js';
import { addWatch, rewatchAll } from '../xenstore/xenbus.js';

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

/**
 * xctrl_suspend: SCHEDOP_shutdown(SHUTDOWN_suspend), then carry on. Returning 1 means the toolstack
 * cancelled it (checkpoint, failed save): the same domain runs on, nothing to redo. Returning 0 means
 * a new domain: xenstored there has none of our watches, so they are set again.
 */
function* xctrlSuspend(k: Kernel, name: string): Generator<VcpuRequest, void, unknown> {
  k.printf(`${name}: suspending`);
  const m = k.v.memory;
  // PV: the machine frame of start_info, from the P2M list; PVH passes nothing.
  const startInfoMfn = k.initOps?.mode === 'pv' ? m.readU64(m.readU64(k.preloadStartInfo + PvStartInfo.mfnList) + Math.floor(k.preloadStartInfo / PAGE_SIZE) * 8) : 0;
  let cancelled: number;
  try {
    cancelled = yield* k.bsp.ops.suspend(startInfoMfn);
  } catch (error) {
    k.printf(`${name}: suspend failed: ${(error as Error).message}`);
    return;
  }
  k.suspends++;
  if (cancelled === 1) {
    k.printf(`${name}: suspend cancelled, resuming`);
    return;
  }
  k.printf(`${name}: resumed in a new domain`);
  yield* rewatchAll(k);
}

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
    yield* xctrlSuspend(k, name);
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
