/** A booted host for the platform tests: Dom0 (PV), an HVM guest with two vCPUs, a PVH guest and a PV guest. */
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';
import type { Host } from '../../../core/host/host.js';
import { Platform } from '../../../core/api/platform.js';
import type { PlatformImpl } from '../../../core/hypercall/platform.js';
import type { MemoryLogSink } from '../../../core/api/log.js';

/** Domids of the fixture's domains. */
export const DOM0 = 0;
export const HVM = 1;
export const PVH = 2;
export const PV = 3;

const logs = new WeakMap<Host, MemoryLogSink>();

/** Error-level log lines of a host booted by {@link bootPlatformHost} (a handler that threw something other than a GuestError logs one). */
export function errorsOf(host: Host): string[] {
  return logs.get(host)?.lines('error') ?? [];
}

export async function bootPlatformHost(): Promise<Host> {
  const { host, logs: sink } = await bootTestHost({
    guests: [
      { name: 'hvm', type: 'hvm', vcpus: 2 },
      { name: 'pvh', type: 'pvh' },
      { name: 'pv', type: 'pv' },
    ],
  });
  logs.set(host, sink);
  return host;
}

/** The platform API of a host. */
export function platformOf(host: Host): PlatformImpl {
  return host.container.resolve(Platform) as PlatformImpl;
}

/** Makes hypercall `nr` from vCPU `vcpu` of `domid` through the host's dispatcher, as guest code would. */
export function call(host: Host, domid: number, nr: number, ...args: number[]): number {
  return host.dispatcher.dispatch(vcpuOf(host, domid), nr, args);
}

/** The guest memory view (guest-physical: paging is off) of `domid`'s vCPU 0. */
export function mem(host: Host, domid: number) {
  return vcpuOf(host, domid).guest;
}

/** Hex of bytes, for readable byte-for-byte assertions. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** ASCII of bytes up to the first NUL. */
export function cstring(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return String.fromCharCode(...bytes.subarray(0, end < 0 ? bytes.length : end));
}
