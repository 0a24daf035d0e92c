import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { Hypercall, XENVER, XenErrno } from '../../../core/public/index.js';
import { HypercallTableImpl } from '../../../core/hypercall/table.js';
import { HypercallDispatcherImpl } from '../../../core/hypercall/dispatch.js';
import { registerXenVersion, XEN_BUILD_INFO, DEFAULT_XEN_COMMANDLINE } from '../../../core/hypercall/xen-version.js';
import { Engine } from '../../../core/engine/engine.js';
import { createLogger } from '../../../core/api/log.js';
import { ByteArrayGuestAccess } from '../../../core/testing/index.js';
import { domId, vcpuId } from '../../../core/public/types.js';
import { bootPlatformHost, call, cstring, DOM0, hex, HVM, mem, platformOf, PV, PVH } from './platform-fixture.js';

let host: Host;
beforeAll(async () => {
  host = await bootPlatformHost();
});
afterAll(async () => {
  await host.shutdown();
});

const BUF = 0x8000;
const xv = (domid: number, cmd: number, arg = BUF) => call(host, domid, Hypercall.xen_version, cmd, arg);
/** Fills the buffer with 0xAA first, so bytes the call does not write stay visible. */
function poison(domid: number, length: number): void {
  mem(host, domid).write(BUF, new Uint8Array(length).fill(0xaa));
}
function ascii(text: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

describe('xen_version', () => {
  it('XENVER_version returns major << 16 | minor = 4.17', () => {
    expect(xv(HVM, XENVER.version, 0)).toBe(0x0004_0011);
  });

  it('XENVER_extraversion writes exactly 16 bytes: the string and NUL padding', () => {
    poison(HVM, 32);
    expect(xv(HVM, XENVER.extraversion)).toBe(0);
    const out = mem(host, HVM).read(BUF, 32);
    expect(hex(out.subarray(0, 16))).toBe(hex(ascii('.0-xenoserver', 16)));
    expect(out.subarray(16).every((b) => b === 0xaa)).toBe(true);
  });

  it('XENVER_compile_info fills xen_compile_info (144 bytes) at its offsets, deterministically', () => {
    poison(PVH, 160);
    expect(xv(PVH, XENVER.compile_info)).toBe(0);
    const out = mem(host, PVH).read(BUF, 160);
    expect(hex(out.subarray(0, 64))).toBe(hex(ascii('gcc (Debian 12.2.0-14) 12.2.0', 64)));
    expect(hex(out.subarray(64, 80))).toBe(hex(ascii('xenoserver', 16)));
    expect(hex(out.subarray(80, 112))).toBe(hex(ascii('xenoserver.invalid', 32)));
    expect(hex(out.subarray(112, 144))).toBe(hex(ascii('Mon Dec 12 00:00:00 UTC 2022', 32)));
    expect(out.subarray(144).every((b) => b === 0xaa)).toBe(true);
  });

  it('XENVER_capabilities writes the 1024-byte capability string', () => {
    poison(PV, 1030);
    expect(xv(PV, XENVER.capabilities)).toBe(0);
    const out = mem(host, PV).read(BUF, 1030);
    expect(hex(out.subarray(0, 1024))).toBe(hex(ascii('xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64', 1024)));
    expect(out.subarray(1024).every((b) => b === 0xaa)).toBe(true);
  });

  it('XENVER_changeset writes 64 bytes', () => {
    poison(HVM, 70);
    expect(xv(HVM, XENVER.changeset)).toBe(0);
    const out = mem(host, HVM).read(BUF, 70);
    expect(hex(out.subarray(0, 64))).toBe(hex(ascii(XEN_BUILD_INFO.changeset, 64)));
    expect(out[64]).toBe(0xaa);
  });

  it('XENVER_platform_parameters: HYPERVISOR_VIRT_START for 64-bit PV, 0 for HVM/PVH', () => {
    poison(PV, 8);
    expect(xv(PV, XENVER.platform_parameters)).toBe(0);
    expect(hex(mem(host, PV).read(BUF, 8))).toBe('00 00 00 00 00 80 ff ff');
    poison(HVM, 8);
    expect(xv(HVM, XENVER.platform_parameters)).toBe(0);
    expect(hex(mem(host, HVM).read(BUF, 8))).toBe('00 00 00 00 00 00 00 00');
  });

  it('XENVER_get_features gives each guest mode its XENFEAT bits, and Dom0 XENFEAT_dom0', () => {
    const features = (domid: number) => {
      mem(host, domid).write(BUF, Uint8Array.of(0, 0, 0, 0, 0xaa, 0xaa, 0xaa, 0xaa));
      expect(xv(domid, XENVER.get_features)).toBe(0);
      expect(mem(host, domid).readU32(BUF)).toBe(0);
      return mem(host, domid).readU32(BUF + 4);
    };
    // HVM: writable_page_tables 0, auto_translated_physmap 2, hvm_callback_vector 8, hvm_safe_pvclock 9, hvm_pirqs 10, memory_op_vnode 13, not_direct_mapped 16.
    expect(features(HVM)).toBe(0x0001_2705);
    // PVH: the same without hvm_pirqs (no emulated PIRQs).
    expect(features(PVH)).toBe(0x0001_2305);
    // PV: mmu_pt_update_preserve_ad 5, highmem_assist 6, gnttab_map_avail_bits 7, memory_op_vnode 13, direct_mapped 17 — no writable_page_tables.
    expect(features(PV)).toBe(0x0002_20e0);
    expect(features(DOM0)).toBe(0x0002_20e0 | (1 << 11));
    mem(host, HVM).writeU32(BUF, 1);
    expect(xv(HVM, XENVER.get_features)).toBe(-XenErrno.EINVAL);
  });

  it('XENVER_pagesize is 4096 and takes no argument', () => {
    expect(xv(PVH, XENVER.pagesize, 0)).toBe(4096);
    expect(xv(PVH, XENVER.pagesize, BUF)).toBe(-XenErrno.EINVAL);
  });

  it('XENVER_guest_handle is zeros until the toolstack sets the domain handle, and each domain sees its own', () => {
    poison(HVM, 16);
    expect(xv(HVM, XENVER.guest_handle)).toBe(0);
    expect(hex(mem(host, HVM).read(BUF, 16))).toBe(hex(new Uint8Array(16)));
    const uuid = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i);
    platformOf(host).setDomainHandle(HVM, uuid);
    expect(xv(HVM, XENVER.guest_handle)).toBe(0);
    expect(hex(mem(host, HVM).read(BUF, 16))).toBe(hex(uuid));
    poison(PVH, 16);
    expect(xv(PVH, XENVER.guest_handle)).toBe(0);
    expect(hex(mem(host, PVH).read(BUF, 16))).toBe(hex(new Uint8Array(16)));
    expect(() => platformOf(host).setDomainHandle(HVM, new Uint8Array(15))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('XENVER_commandline: 1024 bytes for Dom0, "<denied>" (9 bytes) for a guest', () => {
    poison(DOM0, 1030);
    expect(xv(DOM0, XENVER.commandline)).toBe(0);
    const out = mem(host, DOM0).read(BUF, 1030);
    expect(hex(out.subarray(0, 1024))).toBe(hex(ascii(DEFAULT_XEN_COMMANDLINE, 1024)));
    expect(out[1024]).toBe(0xaa);
    poison(HVM, 16);
    expect(xv(HVM, XENVER.commandline)).toBe(0);
    const denied = mem(host, HVM).read(BUF, 16);
    expect(hex(denied.subarray(0, 10))).toBe(hex(Uint8Array.of(...ascii('<denied>', 9), 0xaa)));
    platformOf(host).setCommandLine('dom0_mem=64M sched=credit');
    expect(xv(DOM0, XENVER.commandline)).toBe(0);
    expect(cstring(mem(host, DOM0).read(BUF, 1024))).toBe('dom0_mem=64M sched=credit');
  });

  it('XENVER_build_id: privileged only; a null argument asks the size; len 0 is EINVAL, too small ENOBUFS', () => {
    expect(xv(HVM, XENVER.build_id, 0)).toBe(-XenErrno.EPERM);
    expect(xv(DOM0, XENVER.build_id, 0)).toBe(20);
    mem(host, DOM0).writeU32(BUF, 0);
    expect(xv(DOM0, XENVER.build_id)).toBe(-XenErrno.EINVAL);
    mem(host, DOM0).writeU32(BUF, 19);
    expect(xv(DOM0, XENVER.build_id)).toBe(-XenErrno.ENOBUFS);
    poison(DOM0, 32);
    mem(host, DOM0).writeU32(BUF, 28);
    expect(xv(DOM0, XENVER.build_id)).toBe(20);
    const out = mem(host, DOM0).read(BUF, 32);
    expect(hex(out.subarray(4, 24))).toBe(hex(XEN_BUILD_INFO.buildId));
    expect(hex(out.subarray(24))).toBe('aa aa aa aa aa aa aa aa');
  });

  it('unknown sub-ops are ENOSYS; unwritable buffers EFAULT', () => {
    for (const cmd of [11, 12, 99, -1, 2 ** 32]) expect(xv(HVM, cmd)).toBe(-XenErrno.ENOSYS);
    expect(xv(HVM, XENVER.capabilities, 64 * 2 ** 20)).toBe(-XenErrno.EFAULT);
    expect(xv(HVM, XENVER.get_features, 2 ** 40)).toBe(-XenErrno.EFAULT);
  });

  it('registerXenVersion still serves a bare table (no platform subsystem): handles read as zeros', () => {
    const engine = new Engine();
    const table = new HypercallTableImpl();
    registerXenVersion(table);
    const dispatcher = new HypercallDispatcherImpl(table, engine, createLogger('t', () => {}, () => 0, 'error'));
    const guest = new ByteArrayGuestAccess(4096, 5);
    guest.bytes.fill(0xaa);
    const ctx = { domid: domId(5), vcpuId: vcpuId(0), privileged: false, mode: 'hvm' as const, now: 0, guest, charge() {} };
    expect(dispatcher.dispatch(ctx, Hypercall.xen_version, [XENVER.version, 0])).toBe(0x40011);
    expect(dispatcher.dispatch(ctx, Hypercall.xen_version, [XENVER.guest_handle, 0x100])).toBe(0);
    expect(hex(guest.bytes.subarray(0x100, 0x110))).toBe(hex(new Uint8Array(16)));
  });
});
