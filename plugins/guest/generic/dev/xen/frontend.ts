/** What xenbusb_front needs of a frontend driver (blkfront, netfront): the kernel device it is, and how it learns its node went. */
import type { VcpuRequest } from '../../../../../core/api/index.js';
import type { Device, Driver } from '../../kern/bus.js';

/** One attached frontend device. */
export interface FrontendInstance {
  /** Its xenstore node was removed (the toolstack detached it): release everything. */
  gone(): Generator<VcpuRequest, void, unknown>;
}

/** A frontend driver: the `device` line that builds it in, and its newbus driver for node `device/<type>/<id>`. */
export interface FrontendDriver {
  readonly device: string;
  driver(node: string): Driver;
}

const instances = new WeakMap<Device, FrontendInstance>();

/** Records the instance attached as `dev`. */
export function setFrontend(dev: Device, instance: FrontendInstance): void {
  instances.set(dev, instance);
}

export function driverOf(dev: Device): FrontendInstance | undefined {
  return instances.get(dev);
}
