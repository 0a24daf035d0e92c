import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { TraceKind, type TraceRecord } from '../../../core/engine/trace.js';
import { guestCpuid, timeScale } from '../../../core/hypercall/cpuid.js';
import type { CpuidResult } from '../../../core/api/platform.js';
import { vcpuOf } from '../../hypervisor/harness.js';
import { bootPlatformHost, DOM0, HVM, platformOf, PV, PVH } from './platform-fixture.js';

let host: Host;
beforeAll(async () => {
  host = await bootPlatformHost();
});
afterAll(async () => {
  await host.shutdown();
});

const cpuid = (domid: number, vcpu: number, leaf: number, subleaf = 0): CpuidResult => platformOf(host).cpuid(domid, vcpu, leaf, subleaf);
/** The 12 signature bytes of EBX, ECX, EDX, little-endian, as a string. */
function signature(r: CpuidResult): string {
  return [r.ebx, r.ecx, r.edx].map((w) => String.fromCharCode(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24)).join('');
}

describe('CPUID: Xen leaves 0x40000000..0x40000005', () => {
  it('base+0 spells "XenVMMXenVMM" in EBX, ECX, EDX for every mode and reports base+5 as the highest leaf', () => {
    for (const domid of [DOM0, HVM, PVH, PV]) {
      const r = cpuid(domid, 0, 0x4000_0000);
      expect(signature(r)).toBe('XenVMMXenVMM');
      expect([r.eax, r.ebx, r.ecx, r.edx]).toEqual([0x4000_0005, 0x566e_6558, 0x6558_4d4d, 0x4d4d_566e]);
    }
  });

  it('base+1 is the version 4.17; base+2 one hypercall page at MSR 0x40000000 (PV also gets MMU_PT_UPDATE_PRESERVE_AD)', () => {
    expect(cpuid(HVM, 0, 0x4000_0001)).toEqual({ eax: 0x0004_0011, ebx: 0, ecx: 0, edx: 0 });
    expect(cpuid(HVM, 0, 0x4000_0002)).toEqual({ eax: 1, ebx: 0x4000_0000, ecx: 0, edx: 0 });
    expect(cpuid(PV, 0, 0x4000_0002)).toEqual({ eax: 1, ebx: 0x4000_0000, ecx: 1, edx: 0 });
  });

  it('base+3 reports the host TSC: flags/mode/kHz, Xen time scale, host kHz', () => {
    const khz = host.timers.tsc.khz;
    expect(cpuid(PVH, 0, 0x4000_0003, 0)).toEqual({ eax: 0b110, ebx: 0, ecx: khz, edx: 0 });
    const { mulFrac, shift } = timeScale(khz);
    expect(cpuid(PVH, 0, 0x4000_0003, 1)).toEqual({ eax: 0, ebx: 0, ecx: mulFrac, edx: shift >>> 0 });
    expect(cpuid(PVH, 0, 0x4000_0003, 2)).toEqual({ eax: khz, ebx: 0, ecx: 0, edx: 0 });
    expect(cpuid(PVH, 0, 0x4000_0003, 3)).toEqual({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
  });

  it('base+4 (HVM/PVH only): VCPU_ID_PRESENT, DOMID_PRESENT, UPCALL_VECTOR with the vCPU id in EBX and the domid in ECX', () => {
    expect(cpuid(HVM, 1, 0x4000_0004)).toEqual({ eax: 0x58, ebx: 1, ecx: HVM, edx: 0 });
    expect(cpuid(PVH, 0, 0x4000_0004)).toEqual({ eax: 0x58, ebx: 0, ecx: PVH, edx: 0 });
    expect(cpuid(HVM, 0, 0x4000_0004, 1)).toEqual({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
    expect(cpuid(PV, 0, 0x4000_0004)).toEqual({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
  });

  it('base+5 (PV only): the machine address width of the host', () => {
    // 1 GiB host: highest MFN 0x3ffff → 18 bits + 12.
    expect(cpuid(PV, 0, 0x4000_0005)).toEqual({ eax: 0, ebx: 30, ecx: 0, edx: 0 });
    expect(cpuid(HVM, 0, 0x4000_0005)).toEqual({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
  });

  it('other leaves of the Xen range, and leaves nobody answers, are zero', () => {
    for (const leaf of [0x4000_0006, 0x4000_00ff, 0x4000_0100, 0x4000_0200, 2, 7, 0x8000_0000]) expect(cpuid(HVM, 0, leaf)).toEqual({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
  });
});

describe('CPUID: basic leaves', () => {
  it('leaf 0 is GenuineIntel (a VMX host); leaf 1 sets the hypervisor bit for every guest', () => {
    const r = cpuid(HVM, 0, 0);
    expect(String.fromCharCode(...[r.ebx, r.edx, r.ecx].flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]))).toBe('GenuineIntel');
    for (const domid of [DOM0, HVM, PVH, PV]) expect(cpuid(domid, 0, 1).ecx >>> 31).toBe(1);
  });

  it('leaf 1 EBX carries the initial APIC id vCPU × 2 for HVM; PV has no APIC (EDX bit 9 clear)', () => {
    expect(cpuid(HVM, 1, 1).ebx >>> 24).toBe(2);
    expect(cpuid(PV, 0, 1).ebx >>> 24).toBe(0);
    expect((cpuid(HVM, 0, 1).edx >>> 9) & 1).toBe(1);
    expect((cpuid(PV, 0, 1).edx >>> 9) & 1).toBe(0);
  });
});

describe('CPUID as an instruction', () => {
  it('is a VM exit for HVM/PVH: traced with exit reason 10 and the leaf, charging vmExit', () => {
    const recs: TraceRecord[] = [];
    const stop = host.engine.trace.subscribe((r) => recs.push({ ...r }));
    const v = vcpuOf(host, HVM, 1);
    const before = v.localTime;
    cpuid(HVM, 1, 0x4000_0003, 2);
    stop();
    expect(recs.map((r) => [r.kind, r.domid, r.vcpu, r.a, r.b, r.c])).toEqual([[TraceKind.VmExit, HVM, 1, 10, 0x4000_0003, 2]]);
    expect(v.localTime - before).toBeCloseTo((host.engine.cost.vmExit * 1000) / host.engine.cost.cpuMhz, 6);
  });

  it('is native for PV (no exit, no cost) unless the forced-emulation prefix makes it trap', () => {
    const recs: TraceRecord[] = [];
    const stop = host.engine.trace.subscribe((r) => recs.push({ ...r }));
    const v = vcpuOf(host, PV);
    const before = v.localTime;
    cpuid(PV, 0, 0x4000_0000);
    expect(v.localTime).toBe(before);
    platformOf(host).cpuid(PV, 0, 0x4000_0000, 0, { forcedEmulation: true });
    stop();
    expect(recs).toEqual([]);
    expect(v.localTime - before).toBeCloseTo((host.engine.cost.trapEmulate * 1000) / host.engine.cost.cpuMhz, 6);
  });

  it('names an unknown domain (ESRCH) or vCPU (ENOENT)', () => {
    expect(() => cpuid(42, 0, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(() => cpuid(PVH, 1, 0)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('Xen time scale (set_time_scale)', () => {
  it('matches Xen for 3 GHz, 2 GHz and 1 GHz counters', () => {
    expect(timeScale(3_000_000)).toEqual({ mulFrac: 0xaaaa_aaaa, shift: -1 });
    expect(timeScale(2_000_000)).toEqual({ mulFrac: 0x8000_0000, shift: 0 });
    expect(timeScale(1_000_000)).toEqual({ mulFrac: 0x8000_0000, shift: 1 });
  });

  it('converts ticks to ns within a nanosecond per second', () => {
    for (const khz of [1_234_567, 2_600_000, 3_000_000, 4_100_000]) {
      const { mulFrac, shift } = timeScale(khz);
      const ticks = BigInt(khz) * 1000n; // one second
      const shifted = shift >= 0 ? ticks << BigInt(shift) : ticks >> BigInt(-shift);
      expect(Number((shifted * BigInt(mulFrac)) >> 32n)).toBeGreaterThan(1e9 - 2);
      expect(Number((shifted * BigInt(mulFrac)) >> 32n)).toBeLessThanOrEqual(1e9);
    }
  });

  it('guestCpuid is a pure function of its input', () => {
    const input = { domid: 7, vcpu: 3, mode: 'pvh' as const, tscKhz: 2_000_000, hostFrames: 1 << 20 };
    expect(guestCpuid(input, 0x4000_0004, 0)).toEqual({ eax: 0x58, ebx: 3, ecx: 7, edx: 0 });
    expect(guestCpuid({ ...input, mode: 'pv' }, 0x4000_0005, 0).ebx).toBe(32);
  });
});
