/** A small newbus: the device tree (nexus0 → xenpv0 → xc0, xenstore0 → ...) and the attach messages it prints. */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { Kernel } from './kernel.js';

/** One attached device: `xc0`, `xenstore0`. */
export class Device {
  readonly children: Device[] = [];

  constructor(
    readonly name: string,
    readonly unit: number,
    readonly description: string,
    readonly parent: Device | undefined,
  ) {}

  get nameunit(): string {
    return `${this.name}${this.unit}`;
  }

  /** The subtree, one device per line, indented by depth (what `devinfo` shows). */
  tree(depth = 0): string[] {
    return [`${'  '.repeat(depth)}${this.nameunit}`, ...this.children.flatMap((c) => c.tree(depth + 1))];
  }
}

/** A driver: probes nothing yet (Xen devices are known), attaches under a parent. */
export interface Driver {
  readonly name: string;
  readonly description: string;
  attach(k: Kernel, dev: Device): Generator<VcpuRequest, void, unknown>;
}

/** Adds a child of `parent` driven by `driver`, prints `<name><unit>: <desc> on <parent>` and attaches it. */
export function* deviceAttach(k: Kernel, parent: Device, driver: Driver): Generator<VcpuRequest, Device, unknown> {
  let unit = 0;
  while (k.devices.some((d) => d.name === driver.name && d.unit === unit)) unit++;
  const dev = new Device(driver.name, unit, driver.description, parent);
  parent.children.push(dev);
  k.devices.push(dev);
  k.printf(`${dev.nameunit}: <${driver.description}> on ${parent.nameunit}`);
  yield* driver.attach(k, dev);
  return dev;
}

/** Takes `dev` (and its children) out of the tree, as device_delete_child does; its unit number is free again. */
export function deviceDetach(k: Kernel, dev: Device): void {
  for (const c of [...dev.children]) deviceDetach(k, c);
  const siblings = dev.parent?.children;
  if (siblings !== undefined) siblings.splice(siblings.indexOf(dev), 1);
  const i = k.devices.indexOf(dev);
  if (i >= 0) k.devices.splice(i, 1);
}
