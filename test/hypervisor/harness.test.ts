import { afterEach, describe, expect, it } from 'vitest';
import { Hypercall, XENVER } from '../../core/public/index.js';
import type { Host } from '../../core/host/host.js';
import { bootTestHost, hypercallFrom, runOnVcpu, vcpuOf } from './harness.js';
import { TraceKind } from '../../core/engine/index.js';

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

describe('privileged instructions from guest programs', () => {
  it('CPUID shows Xen, and WRMSR of the hypercall MSR fills the page a guest then calls through', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'h', type: 'hvm' }] }));
    const seen = runOnVcpu(host, 1, 0, function* (v) {
      const sig = v.cpuid(0x4000_0000);
      const leaf2 = v.cpuid(0x4000_0002);
      v.wrmsr(leaf2.ebx, 0x5000n);
      return { sig, msr: leaf2.ebx, pages: leaf2.eax };
    });
    const text = (n: number) => String.fromCharCode(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
    expect(text(seen.sig.ebx) + text(seen.sig.ecx) + text(seen.sig.edx)).toBe('XenVMMXenVMM');
    expect(seen.msr).toBe(0x4000_0000);
    expect(seen.pages).toBe(1);
    // Entry 17 (xen_version): mov eax, 17; vmcall; ret.
    expect([...vcpuOf(host, 1).guest.read(0x5000 + 17 * 32, 9)]).toEqual([0xb8, 17, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xc3]);
    expect(host.engine.trace.count(TraceKind.VmExit)).toBeGreaterThanOrEqual(2);
  });

  it('an MSR the platform does not emulate raises #GP in the guest program', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'h', type: 'hvm' }] }));
    expect(() => runOnVcpu(host, 1, 0, function* (v) {
      return v.rdmsr(0x1234);
    })).toThrow(expect.objectContaining({ code: 'gp' }));
  });
});
