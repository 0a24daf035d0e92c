import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import {
  CpuUserRegs,
  Hypercall,
  VGCF,
  VcpuGuestContext,
  XEN_DOMCTL,
  XEN_DOMCTL_CDF,
  XEN_DOMCTL_INTERFACE_VERSION,
  XEN_DOMINF,
  XEN_DOMINF_shutdownshift,
  XEN_SYSCTL,
  XEN_SYSCTL_INTERFACE_VERSION,
  XEN_SYSCTL_PHYSCAP,
  XEN_X86_EMU,
  XenDomctl,
  XenDomctlCreatedomain,
  XenDomctlGetdomaininfo,
  XenDomctlVcpucontext,
  XenErrno,
  XenSysctl,
  XenSysctlGetdomaininfolist,
  XenSysctlPhysinfo,
  XENMAPSPACE,
  XENMEM,
} from '../../../core/public/index.js';
import { bootTestHost, vcpuOf } from '../../hypervisor/harness.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

const OP = 0x10000;
const BUF = 0x12000;
const U = OP + XenDomctl.u;

function g(domid = 0) {
  return vcpuOf(host, domid).guest;
}

/** Writes a xen_domctl header (the union is left as the caller filled it) and makes the call from `caller`. */
function domctl(cmd: number, domain: number, fill: (u: number) => void = () => {}, caller = 0, version = XEN_DOMCTL_INTERFACE_VERSION): number {
  g(caller).write(OP, new Uint8Array(XenDomctl.size));
  g(caller).writeU32(OP + XenDomctl.cmd, cmd);
  g(caller).writeU32(OP + XenDomctl.interfaceVersion, version);
  g(caller).writeU16(OP + XenDomctl.domain, domain);
  fill(U);
  return host.dispatcher.dispatch(vcpuOf(host, caller), Hypercall.domctl, [OP]);
}

function sysctl(cmd: number, fill: (u: number) => void = () => {}, caller = 0, version = XEN_SYSCTL_INTERFACE_VERSION): number {
  g(caller).write(OP, new Uint8Array(XenSysctl.size));
  g(caller).writeU32(OP + XenSysctl.cmd, cmd);
  g(caller).writeU32(OP + XenSysctl.interfaceVersion, version);
  fill(OP + XenSysctl.u);
  return host.dispatcher.dispatch(vcpuOf(host, caller), Hypercall.sysctl, [OP]);
}

const HVM_EMU = 0x7ff & ~XEN_X86_EMU.VPCI;

function createDomain(opts: { flags?: number; emu?: number; maxVcpus?: number; domid?: number; handle?: number[] } = {}): number {
  const C = XenDomctlCreatedomain;
  const rc = domctl(XEN_DOMCTL.createdomain, opts.domid ?? 0, (u) => {
    g().writeU32(u + C.flags, opts.flags ?? 0);
    g().writeU32(u + C.maxVcpus, opts.maxVcpus ?? 2);
    g().writeU32(u + C.arch, opts.emu ?? 0);
    g().write(u + C.handle, Uint8Array.from(opts.handle ?? new Array<number>(16).fill(0)));
  });
  return rc < 0 ? rc : g().readU16(OP + XenDomctl.domain);
}

function info(domid: number): { rc: number; domain: number; flags: number; tot: bigint; max: bigint; shared: bigint; online: number; maxVcpuId: number; handle: number[]; emu: number; gpaddrBits: number } {
  const rc = domctl(XEN_DOMCTL.getdomaininfo, domid);
  const I = XenDomctlGetdomaininfo;
  return {
    rc,
    domain: g().readU16(OP + XenDomctl.domain),
    flags: g().readU32(U + I.flags),
    tot: g().readU64Big(U + I.totPages),
    max: g().readU64Big(U + I.maxPages),
    shared: g().readU64Big(U + I.sharedInfoFrame),
    online: g().readU32(U + I.nrOnlineVcpus),
    maxVcpuId: g().readU32(U + I.maxVcpuId),
    handle: [...g().read(U + I.handle, 16)],
    emu: g().readU32(U + I.archConfig),
    gpaddrBits: g().read(U + I.gpaddrBits, 1)[0]!,
  };
}

describe('domctl', () => {
  it('a wrong interface_version is −EACCES', async () => {
    ({ host } = await bootTestHost());
    expect(domctl(XEN_DOMCTL.getdomaininfo, 0, undefined, 0, 0x14)).toBe(-XenErrno.EACCES);
    expect(sysctl(XEN_SYSCTL.physinfo, undefined, 0, 0x16)).toBe(-XenErrno.EACCES);
    expect(domctl(999, 0)).toBe(-XenErrno.ENOSYS);
  });

  it('createdomain makes a paused domain of the mode its flags ask for and returns its domid in the struct', async () => {
    ({ host } = await bootTestHost());
    const pv = createDomain({ maxVcpus: 3 });
    const hvm = createDomain({ flags: XEN_DOMCTL_CDF.hvm | XEN_DOMCTL_CDF.hap, emu: HVM_EMU });
    const pvh = createDomain({ flags: XEN_DOMCTL_CDF.hvm | XEN_DOMCTL_CDF.hap, emu: XEN_X86_EMU.LAPIC, domid: 42, handle: [...Array(16).keys()] });
    expect([pv, hvm, pvh]).toEqual([1, 2, 42]);
    expect([1, 2, 42].map((d) => host.domains.lookup(d).mode)).toEqual(['pv', 'hvm', 'pvh']);
    expect(host.domains.lookup(1).vcpus).toHaveLength(3);
    expect(host.domains.lookup(1).state).toBe('paused');
    expect(host.domains.lookup(1).maxPages).toBe(0);
    expect(createDomain({ domid: 42 })).toBe(-XenErrno.EEXIST);
    expect(createDomain({ flags: XEN_DOMCTL_CDF.hap })).toBe(-XenErrno.EINVAL);
    expect(createDomain({ flags: 1 << 8 })).toBe(-XenErrno.EINVAL);
    expect(createDomain({ maxVcpus: 0 })).toBe(-XenErrno.EINVAL);
    expect(createDomain({ maxVcpus: 129 })).toBe(-XenErrno.EINVAL);
    expect(createDomain({ emu: XEN_X86_EMU.LAPIC })).toBe(-XenErrno.EOPNOTSUPP);
    expect(createDomain({ flags: XEN_DOMCTL_CDF.hvm, emu: XEN_X86_EMU.RTC })).toBe(-XenErrno.EOPNOTSUPP);
    const i = info(42);
    expect(i.handle).toEqual([...Array(16).keys()]);
    expect(i.emu).toBe(XEN_X86_EMU.LAPIC);
    expect(i.flags & (XEN_DOMINF.hvm_guest | XEN_DOMINF.hap | XEN_DOMINF.paused)).toBe(XEN_DOMINF.hvm_guest | XEN_DOMINF.hap | XEN_DOMINF.paused);
  });

  it('getdomaininfo reports pages, vCPUs, flags and the shared-info frame; in 4.17 it returns the next domain at or above the id', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'a', memory: 16, vcpus: 2 }, { name: 'p', type: 'pv' }] }));
    const a = info(1);
    expect(a).toMatchObject({ rc: 0, domain: 1, tot: 4096n, max: 4096n, online: 2, maxVcpuId: 1, gpaddrBits: 48 });
    expect(a.flags & XEN_DOMINF.hvm_guest).toBe(XEN_DOMINF.hvm_guest);
    expect(a.flags & XEN_DOMINF.paused).toBe(0);
    expect(a.shared).toBe(0xffff_ffff_ffff_ffffn);
    expect(info(2).shared).toBe(BigInt(host.sharedInfoOf(2)!.mfn));
    expect(info(2).flags & XEN_DOMINF.hvm_guest).toBe(0);
    // An HVM guest's shared_info_frame is where add_to_physmap put it.
    g(1).writeU16(0x10000, 0x7ff0);
    g(1).writeU32(0x10004, XENMAPSPACE.shared_info);
    g(1).writeU64(0x10008, 0);
    g(1).writeU64(0x10010, 0x900);
    expect(host.dispatcher.dispatch(vcpuOf(host, 1), Hypercall.memory_op, [XENMEM.add_to_physmap, 0x10000])).toBe(0);
    expect(info(1).shared).toBe(0x900n);
    expect(info(0)).toMatchObject({ domain: 0 });
    host.domains.destroy(1);
    expect(info(1)).toMatchObject({ rc: 0, domain: 2 });
    expect(info(3).rc).toBe(-XenErrno.ESRCH);
    expect(info(0x7ff0).rc).toBe(-XenErrno.EINVAL);
  });

  it('getdomaininfo carries the shutdown reason in flags bits 23:16', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'a' }] }));
    host.domains.shutdown(1, 'reboot');
    const flags = info(1).flags;
    expect(flags & XEN_DOMINF.shutdown).toBe(XEN_DOMINF.shutdown);
    expect((flags >>> XEN_DOMINF_shutdownshift) & 0xff).toBe(1);
    expect(flags & XEN_DOMINF.paused).toBe(0);
    expect(domctl(XEN_DOMCTL.unpausedomain, 1)).toBe(-XenErrno.EINVAL);
  });

  it('pause/unpause count toolstack pauses; destroy frees the domain; a missing domain is −ESRCH', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'a' }] }));
    const free = host.memory.freeFrames;
    expect(domctl(XEN_DOMCTL.pausedomain, 1)).toBe(0);
    expect(domctl(XEN_DOMCTL.pausedomain, 1)).toBe(0);
    expect(host.domains.lookup(1).pauseCount).toBe(2);
    expect(domctl(XEN_DOMCTL.unpausedomain, 1)).toBe(0);
    expect(domctl(XEN_DOMCTL.unpausedomain, 1)).toBe(0);
    expect(domctl(XEN_DOMCTL.unpausedomain, 1)).toBe(-XenErrno.EINVAL);
    expect(domctl(XEN_DOMCTL.pausedomain, 0)).toBe(-XenErrno.EINVAL);
    expect(domctl(XEN_DOMCTL.destroydomain, 1)).toBe(0);
    expect(host.domains.get(1)).toBeUndefined();
    expect(host.memory.freeFrames).toBeGreaterThan(free + 4096);
    for (const cmd of [XEN_DOMCTL.destroydomain, XEN_DOMCTL.pausedomain, XEN_DOMCTL.max_mem, XEN_DOMCTL.getvcpucontext]) expect(domctl(cmd, 1)).toBe(-XenErrno.ESRCH);
    expect(domctl(XEN_DOMCTL.destroydomain, 0)).toBe(-XenErrno.EPERM);
  });

  it('max_mem sets max_pages from KiB; max_vcpus must match createdomain', async () => {
    ({ host } = await bootTestHost());
    const d = createDomain({ maxVcpus: 2 });
    expect(domctl(XEN_DOMCTL.max_mem, d, (u) => g().writeU64(u, 8192))).toBe(0);
    expect(host.domains.lookup(d).maxPages).toBe(2048);
    expect(domctl(XEN_DOMCTL.max_mem, d, (u) => g().writeU64Big(u, 0xffff_ffff_ffff_ffffn))).toBe(0);
    expect(host.domains.lookup(d).maxPages).toBe(0xffffffff);
    expect(domctl(XEN_DOMCTL.max_vcpus, d, (u) => g().writeU32(u, 2))).toBe(0);
    expect(domctl(XEN_DOMCTL.max_vcpus, d, (u) => g().writeU32(u, 3))).toBe(-XenErrno.EINVAL);
    expect(domctl(XEN_DOMCTL.max_vcpus, 0, (u) => g().writeU32(u, 1))).toBe(-XenErrno.EINVAL);
  });

  it('setvcpucontext loads registers and VGCF_online; getvcpucontext reads them back byte-exact', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'h', type: 'hvm' }] }));
    const C = VcpuGuestContext;
    const R = C.userRegs;
    const ctx = new Uint8Array(C.size);
    const v = new DataView(ctx.buffer);
    v.setBigUint64(C.flags, BigInt(VGCF.online), true);
    v.setBigUint64(R + CpuUserRegs.rax, 0x1111n, true);
    v.setBigUint64(R + CpuUserRegs.r15, 0xffff_8000_0000_1000n, true);
    v.setBigUint64(R + CpuUserRegs.rip, 0x10_0000n, true);
    v.setBigUint64(R + CpuUserRegs.rflags, 0x202n, true);
    v.setUint16(R + CpuUserRegs.cs, 0x10, true);
    v.setBigUint64(C.ctrlreg, 0x8000_0011n, true);
    v.setBigUint64(C.ctrlreg + 3 * 8, 0x5000n, true);
    v.setBigUint64(C.ctrlreg + 4 * 8, 0x20n, true);
    v.setBigUint64(C.fsBase, 0x7000n, true);
    g().write(BUF, ctx);
    const setCtx = (vcpu: number, addr: number) => domctl(XEN_DOMCTL.setvcpucontext, 1, (u) => {
      g().writeU32(u + XenDomctlVcpucontext.vcpu, vcpu);
      g().writeU64(u + XenDomctlVcpucontext.ctxt, addr);
    });
    expect(setCtx(0, BUF)).toBe(0);
    const regs = vcpuOf(host, 1).context;
    expect([regs.rax, regs.rip, regs.cr0, regs.cr3, regs.cs.selector, regs.fs.base]).toEqual([0x1111, 0x10_0000, 0x8000_0011, 0x5000, 0x10, 0x7000]);
    expect(host.domains.lookup(1).pauseCount).toBe(0);
    expect(setCtx(5, BUF)).toBe(-XenErrno.EINVAL);
    v.setBigUint64(R + CpuUserRegs.rip, 0x8000_0000_0000n, true);
    g().write(BUF, ctx);
    expect(setCtx(0, BUF)).toBe(-XenErrno.EINVAL);
    expect(regs.rip).toBe(0x10_0000);

    expect(domctl(XEN_DOMCTL.getvcpucontext, 1, (u) => g().writeU64(u + XenDomctlVcpucontext.ctxt, BUF + 0x2000))).toBe(0);
    const out = new DataView(g().read(BUF + 0x2000, C.size).slice().buffer);
    expect(out.getBigUint64(C.flags, true)).toBe(BigInt(VGCF.online));
    expect(out.getBigUint64(R + CpuUserRegs.r15, true)).toBe(0xffff_8000_0000_1000n);
    expect(out.getBigUint64(R + CpuUserRegs.rip, true)).toBe(0x10_0000n);
    expect(out.getBigUint64(C.ctrlreg + 3 * 8, true)).toBe(0x5000n);
    expect(out.getBigUint64(C.fsBase, true)).toBe(0x7000n);
    expect(setCtx(0, 0)).toBe(0);
    expect(vcpuOf(host, 1).isUp).toBe(false);
    expect(regs.rip).toBe(0xfff0);
  });

  it('PV setvcpucontext needs a CR3 frame the domain owns', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'p', type: 'pv' }] }));
    const C = VcpuGuestContext;
    const ctx = new DataView(new ArrayBuffer(C.size));
    const mfn = host.p2mOf(1)!.mfnOf(5 as never);
    ctx.setBigUint64(C.ctrlreg + 3 * 8, BigInt(mfn * 4096), true);
    g().write(BUF, new Uint8Array(ctx.buffer));
    const setCtx = () => domctl(XEN_DOMCTL.setvcpucontext, 1, (u) => g().writeU64(u + XenDomctlVcpucontext.ctxt, BUF));
    expect(setCtx()).toBe(0);
    expect(vcpuOf(host, 1).context.cr3).toBe(mfn * 4096);
    ctx.setBigUint64(C.ctrlreg + 3 * 8, BigInt(host.p2mOf(0)!.mfnOf(5 as never) * 4096), true);
    g().write(BUF, new Uint8Array(ctx.buffer));
    expect(setCtx()).toBe(-XenErrno.EINVAL);
  });

  it('an unprivileged guest gets −EPERM from domctl and sysctl, and nothing changes', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'a' }, { name: 'b' }] }));
    const before = host.domains.dump();
    expect(domctl(XEN_DOMCTL.destroydomain, 2, undefined, 1)).toBe(-XenErrno.EPERM);
    expect(domctl(XEN_DOMCTL.pausedomain, 2, undefined, 1)).toBe(-XenErrno.EPERM);
    expect(domctl(XEN_DOMCTL.max_mem, 2, (u) => g(1).writeU64(u, 1 << 30), 1)).toBe(-XenErrno.EPERM);
    expect(domctl(XEN_DOMCTL.createdomain, 0, undefined, 1)).toBe(-XenErrno.EPERM);
    expect(sysctl(XEN_SYSCTL.physinfo, undefined, 1)).toBe(-XenErrno.EPERM);
    expect(g(1).readU32(OP + XenSysctl.u + XenSysctlPhysinfo.nrCpus)).toBe(0);
    expect(host.domains.dump()).toBe(before);
  });
});

describe('sysctl', () => {
  it('physinfo describes the host: CPUs, kHz, capabilities, total and free pages', async () => {
    ({ host } = await bootTestHost({ cpus: 4 }));
    expect(sysctl(XEN_SYSCTL.physinfo)).toBe(0);
    const P = XenSysctlPhysinfo;
    const u = OP + XenSysctl.u;
    expect([P.threadsPerCore, P.coresPerSocket, P.nrCpus, P.maxCpuId, P.nrNodes].map((f) => g().readU32(u + f))).toEqual([1, 4, 4, 3, 1]);
    expect(g().readU32(u + P.cpuKhz)).toBe(host.timers.tsc.khz);
    expect(g().readU32(u + P.capabilities) & (XEN_SYSCTL_PHYSCAP.hvm | XEN_SYSCTL_PHYSCAP.pv | XEN_SYSCTL_PHYSCAP.hap)).toBe(XEN_SYSCTL_PHYSCAP.hvm | XEN_SYSCTL_PHYSCAP.pv | XEN_SYSCTL_PHYSCAP.hap);
    expect(g().readU64(u + P.totalPages)).toBe(host.memory.totalFrames);
    expect(g().readU64(u + P.freePages)).toBe(host.memory.freeFrames);
  });

  it('getdomaininfolist writes one getdomaininfo per domain from first_domain, up to max_domains, and num_domains', async () => {
    ({ host } = await bootTestHost({ guests: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }));
    const L = XenSysctlGetdomaininfolist;
    const list = (first: number, max: number, buffer = BUF) =>
      sysctl(XEN_SYSCTL.getdomaininfolist, (u) => {
        g().writeU16(u + L.firstDomain, first);
        g().writeU32(u + L.maxDomains, max);
        g().writeU64(u + L.buffer, buffer);
      });
    expect(list(1, 2)).toBe(0);
    expect(g().readU32(OP + XenSysctl.u + L.numDomains)).toBe(2);
    const I = XenDomctlGetdomaininfo;
    expect([0, 1].map((i) => g().readU16(BUF + i * I.size + I.domain))).toEqual([1, 2]);
    expect(g().readU64(BUF + I.totPages)).toBe(4096);
    expect(list(0, 100)).toBe(0);
    expect(g().readU32(OP + XenSysctl.u + L.numDomains)).toBe(4);
    expect(list(0, 100, 2 ** 40)).toBe(-XenErrno.EFAULT);
  });
});
