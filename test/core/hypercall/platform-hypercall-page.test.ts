import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { fillHypercallPage, type HypercallPageKind } from '../../../core/hypercall/hypercall-page.js';
import { guestFrame, machineFrame } from '../../../core/public/types.js';
import { bootPlatformHost, hex, HVM, mem, platformOf, PV, PVH } from './platform-fixture.js';

let host: Host;
beforeAll(async () => {
  host = await bootPlatformHost();
});
afterAll(async () => {
  await host.shutdown();
});

function page(kind: HypercallPageKind): Uint8Array {
  const bytes = new Uint8Array(4096);
  fillHypercallPage(bytes, kind);
  return bytes;
}
/** Stub `nr` of a page as hex, trailing int3 padding included. */
const stub = (bytes: Uint8Array, nr: number) => hex(bytes.subarray(nr * 32, nr * 32 + 32));
const pad = (n: number) => Array<string>(n).fill('cc').join(' ');

describe('hypercall page contents', () => {
  it('VMX (our HVM/PVH guests): mov $nr,%eax; vmcall; ret, then int3 padding', () => {
    const p = page('vmx');
    expect(stub(p, 0)).toBe(`b8 00 00 00 00 0f 01 c1 c3 ${pad(23)}`);
    expect(stub(p, 17)).toBe(`b8 11 00 00 00 0f 01 c1 c3 ${pad(23)}`);
    expect(stub(p, 34)).toBe(`b8 22 00 00 00 0f 01 c1 c3 ${pad(23)}`);
    expect(stub(p, 127)).toBe(`b8 7f 00 00 00 0f 01 c1 c3 ${pad(23)}`);
    expect(stub(p, 23)).toBe(`0f 0b ${pad(30)}`);
  });

  it('SVM uses vmmcall instead', () => {
    expect(stub(page('svm'), 13)).toBe(`b8 0d 00 00 00 0f 01 d9 c3 ${pad(23)}`);
  });

  it('64-bit PV: push %rcx; push %r11; mov $nr,%eax; syscall; pop %r11; pop %rcx; ret — iret pushes %rax and never returns', () => {
    const p = page('pv64');
    expect(stub(p, 17)).toBe(`51 41 53 b8 11 00 00 00 0f 05 41 5b 59 c3 ${pad(18)}`);
    expect(stub(p, 0)).toBe(`51 41 53 b8 00 00 00 00 0f 05 41 5b 59 c3 ${pad(18)}`);
    expect(stub(p, 23)).toBe(`51 41 53 50 b8 17 00 00 00 0f 05 ${pad(21)}`);
  });

  it('every stub of the VMX page is exactly as built by hand', () => {
    const expected = new Uint8Array(4096).fill(0xcc);
    for (let nr = 0; nr < 128; nr++) {
      const at = nr * 32;
      if (nr === 23) expected.set([0x0f, 0x0b], at);
      else expected.set([0xb8, nr, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xc3], at);
    }
    expect(hex(page('vmx'))).toBe(hex(expected));
  });
});

describe('the hypercall MSR', () => {
  const platform = () => platformOf(host);

  it('writing a RAM frame address (HVM/PVH: guest-physical) fills that guest frame with VMX stubs', () => {
    mem(host, HVM).write(0x0012_3000, new Uint8Array(4096).fill(0x5a));
    platform().wrmsr(HVM, 0, 0x4000_0000, 0x0012_3000n);
    expect(hex(mem(host, HVM).read(0x0012_3000, 4096))).toBe(hex(page('vmx')));
    platform().wrmsr(PVH, 0, 0x4000_0000, 0x0000_5000n);
    expect(hex(mem(host, PVH).read(0x5000, 4096))).toBe(hex(page('vmx')));
  });

  it('reads as zero', () => {
    expect(platform().rdmsr(HVM, 0, 0x4000_0000)).toBe(0n);
  });

  it('a page index (low 12 bits) or a frame that is not the domain’s RAM is a #GP, and nothing is written', () => {
    const gp = expect.objectContaining({ code: 'gp' });
    mem(host, HVM).write(0x0020_0000, new Uint8Array(16).fill(0x77));
    expect(() => platform().wrmsr(HVM, 0, 0x4000_0000, 0x0020_0001n)).toThrow(gp);
    expect(() => platform().wrmsr(HVM, 0, 0x4000_0000, 0x0020_0800n)).toThrow(gp);
    expect(() => platform().wrmsr(HVM, 0, 0x4000_0000, 16n * 2n ** 20n)).toThrow(gp); // just past 16 MiB of RAM
    expect(() => platform().wrmsr(HVM, 0, 0x4000_0000, 0xffff_ffff_ffff_f000n)).toThrow(gp);
    expect(hex(mem(host, HVM).read(0x0020_0000, 16))).toBe(hex(new Uint8Array(16).fill(0x77)));
  });

  it('other MSRs in Xen’s range, and MSRs outside it, are a #GP', () => {
    const gp = expect.objectContaining({ code: 'gp' });
    expect(() => platform().rdmsr(HVM, 0, 0x4000_0001)).toThrow(gp);
    expect(() => platform().wrmsr(HVM, 0, 0x4000_0001, 0n)).toThrow(gp);
    expect(() => platform().rdmsr(HVM, 0, 0x10)).toThrow(gp);
  });

  it('from a PV guest it names a machine frame the domain owns, and gets PV stubs; another domain’s frame is a #GP', () => {
    const mfn = host.p2mOf(PV)!.mfnOf(guestFrame(0x40));
    platform().wrmsr(PV, 0, 0x4000_0000, BigInt(mfn) << 12n);
    expect(hex(host.memory.frameBytes(machineFrame(mfn)))).toBe(hex(page('pv64')));
    const foreign = host.p2mOf(HVM)!.mfnOf(guestFrame(0x41));
    const before = hex(host.memory.frameBytes(machineFrame(foreign)));
    expect(() => platform().wrmsr(PV, 0, 0x4000_0000, BigInt(foreign) << 12n)).toThrow(expect.objectContaining({ code: 'gp' }));
    expect(hex(host.memory.frameBytes(machineFrame(foreign)))).toBe(before);
  });

  it('initHypercallPage (the domain builder, for a PV kernel’s ELF note) fills a guest frame with the mode’s stubs', () => {
    platform().initHypercallPage(PV, guestFrame(0x30));
    expect(hex(mem(host, PV).read(0x30000, 4096))).toBe(hex(page('pv64')));
    expect(() => platform().initHypercallPage(PV, guestFrame(0x10_0000))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});
