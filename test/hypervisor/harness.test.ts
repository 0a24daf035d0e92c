import { afterEach, describe, expect, it } from 'vitest';
import { Hypercall, XENVER } from '../../core/public/index.js';
import type { Host } from '../../core/host/host.js';
import { bootTestHost, hypercallFrom, vcpuOf } from './harness.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

describe('the hypervisor test harness', () => {
  it('boots Dom0 and guests and runs a hypercall from a guest vCPU', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'a' }, { name: 'b', type: 'hvm' }] }));
    expect(host.domains.list().map((d) => d.name)).toEqual(['Domain-0', 'a', 'b']);
    expect(hypercallFrom(host, 1, Hypercall.xen_version, XENVER.version)).toBe((4 << 16) | 17);
  });

  it('gives each vCPU a guest access that reads and writes its domain memory at guest-physical addresses', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'a' }] }));
    const g = vcpuOf(host, 1).guest;
    g.writeU64(0x2000, 0x1234_5678_9abc);
    expect(g.readU64(0x2000)).toBe(0x1234_5678_9abc);
    expect(host.p2mOf(1)!.mfnOf(2 as never)).toBeGreaterThan(0);
    expect(() => g.readU32(64 * 2 ** 20)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
  });
});
